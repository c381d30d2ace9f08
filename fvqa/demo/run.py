"""`fvqa demo`: the main job on the embedded default, offline, stage by stage.

Each stage skips work that an earlier run already finished, so an interrupted demo picks
up where it stopped. Later stages (search indexes, evaluation, leaderboard) add
themselves here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fvqa import dataset_io
from fvqa.demo.stages import DemoRun, build_leaderboard, build_search, print_comparison, run_evaluations
from fvqa.demo.world import build_world, load_world_spec, seed_samples
from fvqa.validate import ValidationReport, validate


@dataclass
class DemoResult:
    out: Path
    world: Path
    seed: Path
    report: ValidationReport
    world_counts: dict[str, int]
    index: Path | None = None
    runs: list[DemoRun] = field(default_factory=list)
    leaderboard: Path | None = None


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def run_demo(
    out: str | Path,
    *,
    console: Console | None = None,
    force: bool = False,
    eval_limit: int | None = 20,
    evaluate: bool = True,
) -> DemoResult:
    """Build the demo world, its seed dataset and search indexes under `out`; validate; then run
    the embedded model on the demo benchmark in every mode and build the leaderboard."""
    console = console or Console()
    out = Path(out)
    world_dir, seed_dir = out / "world", out / "datasets" / "demo-seed"
    spec = load_world_spec()
    if force:
        (world_dir / "world_manifest.json").unlink(missing_ok=True)
    with _progress(console) as progress:
        task = progress.add_task("world: copying photos", total=len(spec.photos))
        manifest = build_world(world_dir, progress=lambda _: progress.advance(task))
        progress.update(task, completed=len(spec.photos), description="world: built")

        task = progress.add_task("seed dataset", total=len(spec.questions))
        seed_current = (seed_dir / dataset_io.MANIFEST_NAME).exists() and (
            dataset_io.read_manifest(seed_dir).get("provenance", {}).get("world_spec_hash") == manifest["spec_hash"]
        )
        if not seed_current:
            writer = dataset_io.DatasetWriter(
                seed_dir,
                overwrite=True,
                description="Seed questions of the fvqa demo world.",
                provenance={"world_spec_hash": manifest["spec_hash"]},
            )
            with writer:
                for sample in seed_samples(world_dir):
                    writer.write(sample)
                    progress.advance(task)
        progress.update(task, completed=len(spec.questions))

        task = progress.add_task("validate seed dataset", total=len(spec.questions))
        report = validate(seed_dir, progress=lambda n: progress.update(task, completed=n))
    result = DemoResult(out=out, world=world_dir, seed=seed_dir, report=report, world_counts=manifest["counts"])
    result.index = build_search(world_dir, console)
    if evaluate:
        result.runs = run_evaluations(out, world_dir, result.index, console, limit=eval_limit)
        print_comparison(result.runs, console)
        result.leaderboard = build_leaderboard(out, result.runs)
    return result
