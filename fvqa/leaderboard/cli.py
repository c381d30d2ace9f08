"""``fvqa leaderboard ...``: add a run, build the site, compare two runs (the main CLI mounts `leaderboard_app`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

leaderboard_app = typer.Typer(
    help="The leaderboard: check and add runs, build the static site, compare two runs.", no_args_is_help=True
)
console = Console()
err_console = Console(stderr=True)

ResultsDir = Annotated[Path, typer.Option("--results", help="Folder of submitted runs.")]


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@leaderboard_app.command()
def add(
    run_dir: Annotated[Path, typer.Argument(help="A run folder holding result.json (and samples.jsonl).")],
    results: ResultsDir = Path("leaderboard/results"),
) -> None:
    """Check a run and copy it into the results folder under a stable name (never over a different run)."""
    from fvqa.leaderboard.add import add_run

    try:
        added = add_run(run_dir, results)
    except (ValueError, FileExistsError) as err:
        raise _fail(f"refused: {err}") from None
    info = added.submission.info
    what = f"{info.model.id} on {info.benchmark.name}"
    if added.copied:
        samples = "with samples.jsonl" if added.submission.samples else "without samples.jsonl (not submitted)"
        console.print(f"added {escape(what)} {samples} as {escape(str(added.path))}", highlight=False)
    else:
        console.print(f"already there: {escape(what)} in {escape(str(added.path))}", highlight=False)


@leaderboard_app.command()
def build(
    results: ResultsDir = Path("leaderboard/results"),
    out: Annotated[Path, typer.Option("--out", help="Folder for the site (replaced on each build).")] = Path(
        "leaderboard/site"
    ),
) -> None:
    """Render the static site (HTML, CSS, JS, plots, leaderboard.json/csv) from a results folder."""
    from fvqa.leaderboard.build import build_site

    try:
        report = build_site(results, out)
    except (FileNotFoundError, FileExistsError) as err:
        raise _fail(str(err)) from None
    console.print(
        f"built {escape(str(report.index))}: {len(report.benchmark_pages)} benchmark(s), {report.ranked} run(s)",
        highlight=False,
    )
    for refusal in report.refused:
        err_console.print(f"[yellow]refused:[/yellow] {escape(str(refusal))}", highlight=False, soft_wrap=True)


@leaderboard_app.command()
def compare(
    a: Annotated[Path, typer.Argument(help="Run A: a run folder or its result.json.")],
    b: Annotated[Path, typer.Argument(help="Run B: a run folder or its result.json.")],
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 10000,
) -> None:
    """Paired bootstrap of per-sample correctness: is run A better or worse than run B on the same benchmark?"""
    from fvqa.leaderboard.compare import compare_runs

    try:
        result = compare_runs(a, b, seed=seed, n=resamples)
    except (ValueError, ImportError) as err:
        raise _fail(f"cannot compare: {err}") from None
    stats = result.bootstrap
    lo, hi = stats["ci95"]
    for label, run, accuracy in (("A", result.a, result.accuracy_a), ("B", result.b, result.accuracy_b)):
        info = run.info
        console.print(
            f"{label}: {escape(info.model.id)} ({escape(info.model.revision)}), accuracy {100 * accuracy:.1f}% "
            f"on the {stats['n_common']} samples both runs scored",
            highlight=False,
        )
    console.print(
        f"difference A - B: {100 * stats['difference']:+.1f} points, 95% CI [{100 * lo:+.1f}, {100 * hi:+.1f}], "
        f"p = {stats['p_value']:.4f}",
        highlight=False,
    )
    verdict = "significant" if result.significant else "not significant"
    console.print(f"{verdict} at the 5% level (paired bootstrap, {resamples} resamples, seed {seed})", highlight=False)
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False, soft_wrap=True)
