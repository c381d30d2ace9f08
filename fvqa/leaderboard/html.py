"""Small HTML building blocks: escaping, number formats, the page frame and the sortable table.

Every string that comes from a submission goes through `esc` (or `attr`) before it reaches
the page; the functions here take already-safe markup only where their argument says `html`.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fvqa import __version__

DASH = "—"


def esc(value: object) -> str:
    """Text as safe HTML (quotes included, so it also fits inside attribute values)."""
    return html.escape("" if value is None else str(value), quote=True)


def pct(value: float | None, digits: int = 1) -> str:
    return DASH if value is None else f"{100 * value:.{digits}f}%"


def ci(bounds: tuple[float, float] | list[float] | None) -> str:
    if not bounds:
        return DASH
    return f"{100 * bounds[0]:.1f}–{100 * bounds[1]:.1f}"


def short_date(stamp: str) -> str:
    return stamp[:10] if stamp else DASH


def link(href: str, text: str) -> str:
    return f'<a href="{esc(href)}">{esc(text)}</a>'


@dataclass(frozen=True)
class Column:
    """A table column: its label, a tooltip, whether it sorts as numbers, and its first sort direction."""

    label: str
    hint: str = ""
    numeric: bool = True
    first: str = "descending"


@dataclass(frozen=True)
class Cell:
    """A table cell: safe markup and the value it sorts by (None sorts last)."""

    html: str
    sort: float | str | None = None
    extra_class: str = ""


@dataclass
class TableRow:
    cells: list[Cell]
    classes: list[str] = field(default_factory=list)
    data: dict[str, str] = field(default_factory=dict)


def sortable_table(table_id: str, caption: str, columns: list[Column], rows: Iterable[TableRow], sorted_by: int) -> str:
    """A table whose column headers are buttons that sort it (see static/leaderboard.js).

    `caption` is shown above the table; an empty caption is left out (name the table by a heading).
    """
    head = []
    for index, column in enumerate(columns):
        state = columns[sorted_by].first if index == sorted_by else "none"
        kind = "num" if column.numeric else "text"
        hint = f' title="{esc(column.hint)}"' if column.hint else ""
        align = ' class="num"' if column.numeric else ""
        head.append(
            f'<th scope="col"{align} aria-sort="{state}"{hint}><button type="button" class="sort" data-col="{index}" '
            f'data-kind="{kind}" data-first="{esc(column.first)}">{esc(column.label)}'
            '<span class="arrow" aria-hidden="true"></span></button></th>'
        )
    body = []
    for row in rows:
        cells = []
        for cell, column in zip(row.cells, columns, strict=True):
            sort = "" if cell.sort is None else esc(cell.sort)
            names = " ".join(name for name in ("num" if column.numeric else "", cell.extra_class) if name)
            classes = f' class="{esc(names)}"' if names else ""
            cells.append(f'<td data-sort="{sort}"{classes}>{cell.html}</td>')
        attrs = "".join(f' data-{esc(key)}="{esc(value)}"' for key, value in row.data.items())
        row_class = f' class="{esc(" ".join(row.classes))}"' if row.classes else ""
        body.append(f"<tr{row_class}{attrs}>{''.join(cells)}</tr>")
    shown = f"<caption>{esc(caption)}</caption>" if caption else ""
    return (
        f'<div class="scroll"><table class="sortable" id="{esc(table_id)}">'
        f"{shown}<thead><tr>{''.join(head)}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def key_values(items: Mapping[str, Any]) -> str:
    """A definition list of a result.json section; nested values shown as compact JSON."""
    parts = []
    for key, value in items.items():
        shown = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
        parts.append(f"<dt>{esc(key)}</dt><dd><code>{esc(shown)}</code></dd>")
    return f'<dl class="kv">{"".join(parts)}</dl>' if parts else f"<p>{DASH}</p>"


def page(title: str, body: str, *, root: str, generated: str) -> str:
    """A whole page: `root` is the relative path from this page to the site root ("" or "../")."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{root}assets/leaderboard.css">
<script src="{root}assets/leaderboard.js" defer></script>
</head>
<body>
<header class="site"><a class="home" href="{root}index.html">FVQA leaderboard</a>
<span class="tag">search-on-demand visual question answering</span></header>
<main>
{body}
</main>
<footer>Built by fvqa {esc(__version__)} on {esc(generated)}. Machine-readable:
<a href="{root}leaderboard.json">leaderboard.json</a>, <a href="{root}leaderboard.csv">leaderboard.csv</a>.</footer>
</body>
</html>
"""
