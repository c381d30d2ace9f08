"""The `fvqa` command line: each command parses its options and calls one library function."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from fvqa import __version__
from fvqa.images import DEFAULT_MAX_PIXELS

app = typer.Typer(
    name="fvqa",
    help="The open toolkit around FactualVQA: build, review, benchmark and train search-on-demand VQA.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

MaxPixels = Annotated[int, typer.Option(help="Refuse images with more pixels than this (decompression-bomb guard).")]


@contextmanager
def user_errors(*more: type[Exception]) -> Iterator[None]:
    """Turn the errors a user can fix (bad path, bad file, bad option, a missing extra) into one
    clear line and exit status 2."""
    try:
        yield
    except (FileNotFoundError, FileExistsError, ValueError, *more) as err:
        err_console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _version(value: bool) -> None:
    if value:
        console.print(f"fvqa {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """fvqa command line."""


@app.command()
def convert(
    src: Annotated[Path, typer.Argument(help="Dataset folder or parquet file, fvqa or official format.")],
    dst: Annotated[Path, typer.Argument(help="Output: a folder for --to fvqa, a .parquet file for --to official.")],
    to: Annotated[str, typer.Option("--to", help="Output format: official or fvqa.")] = "fvqa",
    split: Annotated[str | None, typer.Option(help="Set every sample's split (default: from the source).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output.")] = False,
    max_pixels: MaxPixels = DEFAULT_MAX_PIXELS,
) -> None:
    """Convert a dataset between the official FVQA format and the fvqa format.

    Rows that cannot be converted are skipped and listed, with their reason, in a rejects
    file; the exit status is 1 when there were any.
    """
    from fvqa.convert import convert as run_convert
    from fvqa.sources import DatasetFormat, count_rows

    try:
        target = DatasetFormat(to)
    except ValueError:
        raise typer.BadParameter(f"--to must be official or fvqa, not {to!r}") from None
    with user_errors(), Progress(console=err_console, transient=True) as progress:
        task = progress.add_task(f"converting {src.name}", total=count_rows(src))
        result = run_convert(
            src,
            dst,
            to=target,
            split=split,
            overwrite=overwrite,
            max_pixels=max_pixels,
            progress=lambda n: progress.update(task, completed=n),
        )
    console.print(f"read {result.read} rows, wrote {result.written} samples to {result.output}")
    if result.rejected:
        err_console.print(f"[yellow]{len(result.rejected)} rows rejected; reasons in {result.rejects_path}[/yellow]")
        for rejected in result.rejected[:10]:
            err_console.print(f"  {rejected.location} {rejected.sample_id or ''}: {rejected.reason}")
        raise typer.Exit(1)


@app.command("validate")
def validate_command(
    path: Annotated[Path, typer.Argument(help="Dataset folder or parquet file, fvqa or official format.")],
    strict: Annotated[bool, typer.Option(help="Treat warnings as problems for the exit status.")] = False,
    report: Annotated[Path | None, typer.Option("--json", help="Also write the full report as JSON here.")] = None,
    show: Annotated[int, typer.Option(help="How many problems to list on screen.")] = 50,
    max_pixels: MaxPixels = DEFAULT_MAX_PIXELS,
) -> None:
    """Check a dataset and report every problem by sample; exit 0 only when it is clean."""
    from fvqa.sources import count_rows
    from fvqa.validate import validate

    with user_errors(), Progress(console=err_console, transient=True) as progress:
        task = progress.add_task(f"validating {path.name}", total=count_rows(path))
        result = validate(path, max_pixels=max_pixels, progress=lambda n: progress.update(task, completed=n))
    print_report(result, show=show)
    if report is not None:
        report.write_text(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        console.print(f"full report: {report}")
    raise typer.Exit(0 if result.is_clean(strict) else 1)


def print_report(result: object, *, show: int = 50) -> None:
    from fvqa.validate import ValidationReport

    assert isinstance(result, ValidationReport)
    counts = result.to_dict()["counts"]
    summary = Table(title=f"{result.path} ({result.format} format)", show_header=False)
    for key in ("rows", "clean_rows", "rows_with_errors", "errors", "warnings"):
        summary.add_row(key.replace("_", " "), str(counts[key]))
    for key in ("splits", "categories", "search_labels", "image_formats", "problems"):
        if counts[key]:
            summary.add_row(key.replace("_", " "), ", ".join(f"{k}: {v}" for k, v in counts[key].items()))
    console.print(summary)
    for p in result.problems[:show]:
        colour = "red" if p.severity == "error" else "yellow"
        console.print(
            f"[{colour}]{p.severity}[/{colour}] {p.location} {p.sample_id or '-'} {p.kind}: {p.message}",
            highlight=False,
            soft_wrap=True,
        )
    if len(result.problems) > show:
        console.print(f"... and {len(result.problems) - show} more (use --json for all)")
    verdict = "[green]clean[/green]" if result.is_clean() else "[red]not clean[/red]"
    console.print(f"{result.path}: {verdict}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Where the demo writes everything.")] = Path("fvqa-demo"),
    force: Annotated[bool, typer.Option(help="Rebuild every stage, even those already done.")] = False,
    eval_limit: Annotated[int, typer.Option(help="Demo questions per mode in the evaluation (0: all).")] = 20,
    evaluate: Annotated[bool, typer.Option(help="Run the evaluation and leaderboard stages.")] = True,
) -> None:
    """Run the main job offline on the embedded demo world and print where everything is."""
    from fvqa.demo.run import run_demo
    from fvqa.models.local_server import LocalModelUnavailable, LocalServerError
    from fvqa.search.image_features import EncoderUnavailable

    with user_errors(LocalModelUnavailable, LocalServerError, EncoderUnavailable):
        result = run_demo(out, console=console, force=force, eval_limit=eval_limit or None, evaluate=evaluate)
    print_report(result.report, show=10)
    table = Table("what", "where", title="fvqa demo")
    counts = result.world_counts
    table.add_row(
        f"demo world: {counts['photos']} photos, {counts['pages']} image-search pages, "
        f"{counts['passages']} text-search passages, {counts['concepts']} concepts",
        str(result.world),
    )
    table.add_row(f"seed dataset: {result.report.rows} questions (fvqa format)", str(result.seed))
    if result.index is not None:
        table.add_row("search indexes (image and text)", str(result.index))
    for run in result.runs:
        table.add_row(f"evaluation run, {run.mode} mode (result.json, samples.jsonl)", str(run.out))
    if result.leaderboard is not None:
        table.add_row("leaderboard site (open in a browser)", str(result.leaderboard))
    console.print(table)
    if not result.report.is_clean():
        raise typer.Exit(1)


def _mount() -> None:
    """Each area's commands live in its own module; the main command only mounts them."""
    from fvqa.eval.cli import eval_command
    from fvqa.leaderboard.cli import leaderboard_app
    from fvqa.models.cli import models_app
    from fvqa.search.cli import search_app

    app.add_typer(search_app, name="search", help="Image and text search: build indexes, query, serve.")
    app.add_typer(models_app, name="models", help="Models: the embedded offline model server.")
    app.command("eval")(eval_command)
    app.add_typer(
        leaderboard_app, name="leaderboard", help="Leaderboard: add runs, build the static site, compare runs."
    )


_mount()
