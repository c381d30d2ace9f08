"""The trade-off plot: accuracy (with its 95% CI) against search ratio, one point per run.

Drawn with matplotlib's Agg canvas directly (no pyplot, no global backend state), so it works
headless and from several threads.
"""

from __future__ import annotations

from pathlib import Path

from fvqa.leaderboard.tables import Table

TIER_COLOURS = ("#1f5fa8", "#c2571a", "#2e7d4f", "#8a3ea3", "#a6761d", "#4d4d4d")
MAX_LABEL = 32


def short_label(text: str, limit: int = MAX_LABEL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plot_tradeoff(table: Table, path: Path) -> list[str]:
    """Write the scatter of `table` as a PNG at `path`; return the run keys left out (no search ratio)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.5, 4.8), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    left_out: list[str] = []
    seen_tiers: set[int] = set()
    for index, row in enumerate(table.rows):
        metrics = row.submission.info.metrics
        if metrics.search_ratio is None:
            left_out.append(row.submission.key)
            continue
        x, y = metrics.search_ratio, metrics.accuracy
        lo, hi = metrics.accuracy_ci95
        colour = TIER_COLOURS[(row.tier - 1) % len(TIER_COLOURS)]
        axes.errorbar(
            [x],
            [y],
            yerr=[[max(y - lo, 0.0)], [max(hi - y, 0.0)]],
            fmt="o",
            color=colour,
            ecolor=colour,
            elinewidth=1.2,
            capsize=4,
            markersize=6,
            label=f"tier {row.tier}" if row.tier not in seen_tiers else None,
        )
        seen_tiers.add(row.tier)
        axes.annotate(
            short_label(row.submission.info.model.id),
            (x, y),
            xytext=(7, 6 if index % 2 == 0 else -12),
            textcoords="offset points",
            fontsize=8,
            color="#222222",
            parse_math=False,
        )
    axes.set_xlim(-0.05, 1.05)
    axes.set_xlabel("search ratio (share of samples with at least one search)")
    axes.set_ylabel("accuracy (95% CI)")
    axes.set_title(short_label(table.title, 80), fontsize=11, loc="left", parse_math=False)
    axes.grid(True, color="#dddddd", linewidth=0.6)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    if seen_tiers:
        axes.legend(loc="best", fontsize=8, frameon=False)
    else:
        axes.text(0.5, 0.5, "no run reports a search ratio", ha="center", transform=axes.transAxes)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", metadata={"Software": None})
    return left_out
