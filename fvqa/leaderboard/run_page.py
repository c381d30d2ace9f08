"""The page of one run: headline numbers, failures, breakdowns, per-sample log and provenance."""

from __future__ import annotations

from typing import Any

from fvqa.leaderboard.html import DASH, Cell, Column, TableRow, ci, esc, key_values, link, page, pct, sortable_table
from fvqa.leaderboard.submissions import Submission
from fvqa.leaderboard.tables import Row, Table

HEADLINE = [
    ("accuracy", "Accuracy"),
    ("not_attempted", "Not attempted"),
    ("search_ratio", "Search ratio (samples with a search)"),
    ("search_call_ratio", "Search-call ratio (calls over the limit)"),
    ("image_only_share", "Image search only"),
    ("text_only_share", "Text search only"),
    ("mixed_share", "Both searches"),
    ("no_search_share", "No search"),
    ("search_failure_rate", "Search failure rate"),
    ("correct_without_search", "Correct without search"),
]
FAILURES = [
    ("model_errors", "Model errors"),
    ("tool_errors", "Tool errors"),
    ("judge_errors", "Judge errors"),
    ("parse_errors", "Parse errors (scored as incorrect)"),
    ("search_failures", "Failed searches (shown to the model)"),
]
BREAKDOWN_ORDER = [
    "n",
    "scored",
    "correct",
    "accuracy",
    "accuracy_ci95",
    "not_attempted",
    "search_ratio",
    "search_call_ratio",
    "correct_without_search",
    "search_failure_rate",
]
PROVENANCE_SECTIONS = ("benchmark", "model", "protocol", "search", "judge", "provenance")


def _number(value: Any) -> tuple[str, float | str | None]:
    """How a breakdown value is shown and sorted: fractions as percentages, CIs as ranges."""
    if isinstance(value, bool) or value is None:
        return esc(DASH if value is None else value), None
    if isinstance(value, int):
        return str(value), value
    if isinstance(value, float):
        return (pct(value), value) if 0.0 <= value <= 1.0 else (f"{value:.3g}", value)
    if isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(v, int | float) for v in value):
        return esc(ci((float(value[0]), float(value[1])))), float(value[0])
    return esc(value), str(value)


def breakdown_table(table_id: str, title: str, groups: dict[str, dict[str, Any]]) -> str:
    if not groups:
        return f"<h3>{esc(title)}</h3><p>Not reported by this run.</p>"
    keys = {key for values in groups.values() if isinstance(values, dict) for key in values}
    ordered = [key for key in BREAKDOWN_ORDER if key in keys] or sorted(keys)  # the rest stays in result.json
    columns = [Column("Group", numeric=False, first="ascending")] + [Column(key.replace("_", " ")) for key in ordered]
    rows = []
    for name, values in sorted(groups.items()):
        values = values if isinstance(values, dict) else {}
        cells = [Cell(esc(name), name.lower())]
        cells += [Cell(*_number(values.get(key))) for key in ordered]
        rows.append(TableRow(cells))
    return f"<h3>{esc(title)}</h3>" + sortable_table(table_id, "", columns, rows, sorted_by=0)


def _summary(run: Submission) -> str:
    metrics = run.result.metrics
    items = [f"<dt>{esc(label)}</dt><dd>{_number(metrics.get(key))[0]}</dd>" for key, label in HEADLINE]
    items.insert(1, f"<dt>95% CI</dt><dd>{esc(ci(run.info.metrics.accuracy_ci95))}</dd>")
    return f'<dl class="stats">{"".join(items)}</dl>'


def _failures(run: Submission) -> str:
    counts = run.result.counts
    listed = [f"<dt>{esc(label)}</dt><dd>{counts.get(key, 0)}</dd>" for key, label in FAILURES]
    extra = [f"<dt>{esc(key)}</dt><dd>{value}</dd>" for key, value in counts.items() if key not in dict(FAILURES)]
    return f'<dl class="stats">{"".join(listed + extra)}</dl>'


def _samples(run: Submission) -> str:
    if run.samples is None:
        return "<p>The per-sample log (samples.jsonl) was not submitted with this run.</p>"
    return (
        f"<p>{link(f'{run.key}.samples.jsonl', 'samples.jsonl')}: one JSON line per sample with its trajectory, "
        "tool calls, answer, judge verdict and status.</p>"
    )


def run_page(run: Submission, table: Table, row: Row, benchmark_slug: str, generated: str) -> str:
    model = run.info.model
    where = (
        f"tier {row.tier} (position {row.position} of {len(table.rows)}) in the main table"
        if table.main
        else f"tier {row.tier} in a separate table: {table.why_separate}"
    )
    body = (
        f'<h1>{esc(model.id)} <span class="rev">{esc(model.revision)}</span></h1>'
        f'<p class="lead">On {link(f"../benchmarks/{benchmark_slug}.html", run.info.benchmark.name)}: '
        f"{esc(where)}. Run finished {esc(run.run_time or 'at an unknown time')}.</p>"
        f"<section><h2>Results</h2>{_summary(run)}</section>"
        f"<section><h2>Counts and failures</h2>{_failures(run)}</section>"
        "<section><h2>Breakdowns</h2>"
        + breakdown_table("by-category", "By category", run.info.metrics.by_category)
        + breakdown_table("by-search-label", "By search label", run.info.metrics.by_search_label)
        + "</section>"
        f"<section><h2>Per-sample log</h2>{_samples(run)}</section>"
        "<section><h2>Provenance</h2>"
        f"<p>{link(f'{run.key}.result.json', 'result.json')} as submitted.</p>"
        + "".join(f"<h3>{section}</h3>{key_values(getattr(run.result, section))}" for section in PROVENANCE_SECTIONS)
        + "</section>"
        '<p class="sr-only" aria-live="polite" id="sort-status"></p>'
    )
    return page(f"{model.id} on {run.info.benchmark.name} · FVQA leaderboard", body, root="../", generated=generated)
