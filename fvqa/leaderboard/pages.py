"""The overview and benchmark pages (the per-run page is in `run_page.py`).

Site layout, relative to its root: `index.html`; `benchmarks/<slug>.html` with one
`<slug>-<n>.png` plot per table; `runs/<key>.html` with `<key>.result.json` and, when
submitted, `<key>.samples.jsonl`; `assets/`; `leaderboard.json` and `leaderboard.csv`.
"""

from __future__ import annotations

from dataclasses import dataclass

from fvqa.leaderboard.html import DASH, Cell, Column, TableRow, ci, esc, link, page, pct, short_date, sortable_table
from fvqa.leaderboard.submissions import Refusal, Submission
from fvqa.leaderboard.tables import TIER_RULE, Benchmark, Row, Table, describe_judge, short_hash


@dataclass(frozen=True)
class BenchmarkSite:
    """A benchmark and where its files go: its slug and, per table, the plot file name (or None)."""

    benchmark: Benchmark
    slug: str
    plots: list[str | None]
    left_out: list[list[str]]
    """Per table: run keys missing from the plot (no search ratio)."""


RUN_COLUMNS = [
    Column("Tier", "Rank tier: runs whose 95% CIs overlap the tier leader's share a tier.", first="ascending"),
    Column("Model", "Model id and revision; opens the run's detail page.", numeric=False, first="ascending"),
    Column("Setup", "Protocol mode, protocol and round limit.", numeric=False, first="ascending"),
    Column("Accuracy", "Share of scored samples judged CORRECT."),
    Column("95% CI", "Bootstrap 95% confidence interval of accuracy (sorts by its lower bound)."),
    Column("Search ratio", "Share of samples where the model made at least one search."),
    Column("Search-call ratio", "Search calls made over the most the limits allowed."),
    Column("Correct w/o search", "Share of samples answered correctly without any search."),
    Column("Model errors", "Samples lost to model endpoint failures (not scored).", first="ascending"),
    Column("Tool errors", "Samples lost to harness-side search failures (not scored).", first="ascending"),
    Column("Judge errors", "Samples whose judging failed (not scored).", first="ascending"),
    Column("Scored", "Scored samples of all samples in the run."),
    Column("Run date", "When the run finished.", numeric=False),
]


def setup_text(run: Submission) -> tuple[str, str]:
    """The protocol in two short lines: mode and protocol; rounds and search limits."""
    protocol = run.info.protocol
    limits = protocol.limits
    return (
        f"{protocol.mode} · {protocol.protocol}",
        f"{limits.max_rounds} rounds, ≤{limits.image_search} image + ≤{limits.text_search} text searches",
    )


def run_row(row: Row, root: str) -> TableRow:
    run = row.submission
    metrics, counts = run.info.metrics, run.info.counts
    lo, hi = metrics.accuracy_ci95
    setup = setup_text(run)
    revision = f'<span class="rev">{esc(run.info.model.revision)}</span>'
    model = link(f"{root}runs/{run.key}.html", run.info.model.id) + revision
    cells = [
        Cell(f'<span class="tier">{row.tier}</span>', row.tier),
        Cell(model, run.info.model.id.lower(), "model"),
        Cell(f'{esc(setup[0])}<span class="rev">{esc(setup[1])}</span>', " ".join(setup), "setup"),
        Cell(f"<strong>{pct(metrics.accuracy)}</strong>", metrics.accuracy),
        Cell(esc(ci((lo, hi))), lo, "ci"),
        Cell(pct(metrics.search_ratio), metrics.search_ratio),
        Cell(pct(metrics.search_call_ratio), metrics.search_call_ratio),
        Cell(pct(metrics.correct_without_search), metrics.correct_without_search),
        Cell(str(counts.model_errors), counts.model_errors),
        Cell(str(counts.tool_errors), counts.tool_errors),
        Cell(str(counts.judge_errors), counts.judge_errors),
        Cell(f"{counts.scored}/{counts.samples}", counts.scored),
        Cell(f'<time datetime="{esc(run.run_time)}">{esc(short_date(run.run_time))}</time>', run.run_time or None),
    ]
    return TableRow(cells, ["tier-odd" if row.tier % 2 else "tier-even"], {"key": run.key, "tier": str(row.tier)})


def runs_table(table: Table, table_id: str, root: str) -> str:
    caption = f"{table.title}: {len(table.rows)} run(s)"
    return sortable_table(table_id, caption, RUN_COLUMNS, (run_row(row, root) for row in table.rows), sorted_by=0)


def _table_section(site: BenchmarkSite, index: int) -> str:
    table = site.benchmark.tables[index]
    if table.main:
        heading = "<h2>Ranking</h2>"
        why = (
            f"<p>Runs on data revision <code>{esc(short_hash(table.data_hash))}</code>, "
            f"{esc(describe_judge(table.judge))}.</p>"
        )
    else:
        heading = f"<h2>Separate table: {esc(table.difference)}</h2>"
        why = (
            f'<p class="why">Not ranked with the main table: these runs were {esc(table.why_separate)}. '
            "Scores from another data revision or another judge are not comparable.</p>"
        )
    plot = site.plots[index]
    figure = ""
    if plot:
        missing = site.left_out[index]
        note = f" {len(missing)} run(s) without a search ratio are not shown." if missing else ""
        figure = (
            f'<figure><img src="{esc(plot)}" alt="Accuracy against search ratio for {esc(table.title)}" '
            f'class="plot"><figcaption>Accuracy (with 95% CI) against search ratio, one point per run, coloured '
            f"by tier. Up and to the left is better: more correct answers with fewer searches.{esc(note)}"
            "</figcaption></figure>"
        )
    table_id = "main-table" if table.main else f"table-{index}"
    return f'<section class="group{"" if table.main else " separate"}">{heading}{why}' + (
        runs_table(table, table_id, "../") + figure + "</section>"
    )


def benchmark_page(site: BenchmarkSite, generated: str) -> str:
    benchmark = site.benchmark
    main = benchmark.main
    separate = len(benchmark.tables) - 1
    note = (
        f" {separate} more table(s) below hold runs that are not comparable with it, each with the reason."
        if separate
        else ""
    )
    body = (
        f"<h1>{esc(benchmark.name)}</h1>"
        f'<p class="lead">{len(main.rows)} run(s) ranked in the main table.{esc(note)}</p>'
        f'<details class="rule" open><summary>How tiers work</summary><p>{esc(TIER_RULE)}</p></details>'
        '<p class="sr-only" aria-live="polite" id="sort-status"></p>'
        + "".join(_table_section(site, index) for index in range(len(benchmark.tables)))
    )
    return page(f"{benchmark.name} · FVQA leaderboard", body, root="../", generated=generated)


def _overview_row(site: BenchmarkSite) -> TableRow:
    main = site.benchmark.main
    best = main.rows[0].submission.info.metrics.accuracy
    leaders = ", ".join(esc(row.submission.info.model.id) for row in main.rows if row.tier == 1)
    separate_runs = sum(len(table.rows) for table in site.benchmark.tables[1:])
    return TableRow(
        [
            Cell(link(f"benchmarks/{site.slug}.html", site.benchmark.name), site.benchmark.name.lower()),
            Cell(str(len(main.rows)), len(main.rows)),
            Cell(leaders or DASH, leaders),
            Cell(pct(best), best),
            Cell(str(separate_runs), separate_runs),
            Cell(f"<code>{esc(short_hash(main.data_hash))}</code>", main.data_hash),
            Cell(esc(describe_judge(main.judge)), describe_judge(main.judge)),
        ]
    )


OVERVIEW_COLUMNS = [
    Column("Benchmark", numeric=False, first="ascending"),
    Column("Runs ranked", "Runs in the benchmark's main table."),
    Column("Tier 1", "Models in the top tier of the main table.", numeric=False, first="ascending"),
    Column("Best accuracy"),
    Column("Runs in separate tables", "Runs on another data revision or with another judge."),
    Column("Data revision", "Benchmark data hash of the main table.", numeric=False, first="ascending"),
    Column("Judge", "Judge of the main table.", numeric=False, first="ascending"),
]


def refusals_section(refused: list[Refusal]) -> str:
    if not refused:
        return "<section><h2>Refused submissions</h2><p>None: every submitted run was accepted.</p></section>"
    items = "".join(
        f"<li><code>{esc(item.folder)}/{esc(item.file)}</code>"
        + (f" field <code>{esc(item.field)}</code>" if item.field else "")
        + f": {esc(item.message)}</li>"
        for item in refused
    )
    return (
        f'<section class="refused"><h2>Refused submissions ({len(refused)})</h2>'
        f"<p>These runs are not on the leaderboard; fix the file and field named and submit again.</p>"
        f"<ul>{items}</ul></section>"
    )


def overview_page(sites: list[BenchmarkSite], refused: list[Refusal], generated: str) -> str:
    if sites:
        table = sortable_table("overview-table", "Benchmarks", OVERVIEW_COLUMNS, map(_overview_row, sites), 0)
    else:
        table = "<p>No accepted runs yet. Add one with <code>fvqa leaderboard add RESULT_DIR</code>.</p>"
    body = (
        "<h1>FVQA leaderboard</h1>"
        '<p class="lead">Vision-language models answer factual questions about images and may call image '
        "search and text search first. Each benchmark page ranks runs by accuracy, groups models whose "
        "confidence intervals overlap into tiers, and shows how often they searched.</p>"
        '<p class="sr-only" aria-live="polite" id="sort-status"></p>'
        f"{table}{refusals_section(refused)}"
    )
    return page("FVQA leaderboard", body, root="", generated=generated)
