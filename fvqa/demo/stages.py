"""The later stages of `fvqa demo`: search indexes, evaluation with the embedded model, and
the leaderboard. Each skips what an earlier run finished (index manifests, resumable runs)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import ImageOps
from rich.console import Console
from rich.table import Table

from fvqa.agent.loop import Mode
from fvqa.images import decode_image, encode_image

DEMO_MODES = (Mode.DIRECT, Mode.RAG, Mode.AGENT)
IMAGE_QUERY_PHOTO = "astronaut"
TEXT_QUERY = "first Space Shuttle mission commanded by a woman"


def build_search(world: Path, console: Console) -> Path:
    """Build the world's image and text indexes and show one search of each kind."""
    from fvqa.search.local import LocalImageSearch, LocalTextSearch, build_indexes
    from fvqa.search.tools import ImageSearchTool, TextSearchTool

    index = world / "index"
    with console.status("search: building the image and text indexes"):
        summary = build_indexes(world, index)
    for kind in ("image", "text"):
        info = summary[kind]
        console.print(f"search: {kind} index {info['status']} in {info['seconds']:.1f} s at {info['path']}")
    photo = next(world.joinpath("photos").glob(f"{IMAGE_QUERY_PHOTO}.*"))
    picture = decode_image(photo.read_bytes()).image
    w, h = picture.size
    query = encode_image(ImageOps.mirror(picture.crop((w // 10, h // 10, w, h))), "JPEG", quality=70)
    image_result = ImageSearchTool(LocalImageSearch(index))(query, 3)
    text_result = TextSearchTool(LocalTextSearch(index))(TEXT_QUERY, 3)
    table = Table("search", "rank", "title", "url", title="two searches over the demo world")
    for label, result in (
        (f"image: {photo.name}, cropped and mirrored", image_result),
        (f"text: {TEXT_QUERY!r}", text_result),
    ):
        for rank, page in enumerate(result.pages, 1):
            table.add_row(label if rank == 1 else "", str(rank), page.title, page.url)
    console.print(table)
    return index


@dataclass
class DemoRun:
    mode: Mode
    out: Path
    result: dict[str, Any]


def run_evaluations(out: Path, world: Path, index: Path, console: Console, *, limit: int | None) -> list[DemoRun]:
    """The embedded model on the demo benchmark in every mode, local search, rules judge."""
    from fvqa.eval.run import run_evaluation
    from fvqa.eval.setup import EvalOptions, build_parts
    from fvqa.models.local_server import LocalModelServer

    os.environ["FVQA_DEMO_WORLD"] = str(world)  # the demo benchmark reads the world built above
    runs: list[DemoRun] = []
    with console.status("models: starting the embedded model (SmolLM2-135M-Instruct on llama.cpp)"):
        server = LocalModelServer()
        server.start()
    try:
        console.print(f"models: {server.model} at {server.base_url}")
        for mode in DEMO_MODES:
            options = EvalOptions(
                benchmark="demo",
                model=server.model,
                base_url=server.base_url,
                mode=mode,
                search="local",
                search_index=index,
                limit=limit,
                text_only=True,
                max_tokens=160,
                concurrency=2,
                model_revision="SmolLM2-135M-Instruct.Q4_1.gguf",
            )
            run_dir = out / "runs" / str(mode)
            parts = build_parts(options, run_dir, command=f"fvqa demo (mode {mode})")
            with console.status(f"eval: {mode} mode on {len(parts.benchmark.samples)} demo questions"):
                outcome = run_evaluation(parts, run_dir, concurrency=2)
            runs.append(DemoRun(mode, run_dir, outcome.result.model_dump(mode="json")))
            console.print(f"eval: {mode} done ({outcome.ran} run now, the rest resumed)")
    finally:
        server.stop()
    return runs


def print_comparison(runs: list[DemoRun], console: Console) -> None:
    def pct(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.1f}%"

    table = Table(
        "mode",
        "accuracy (95% CI)",
        "search ratio",
        "search call ratio",
        "correct w/o search",
        "failures",
        title="embedded model on the demo benchmark",
    )
    for run in runs:
        m, c = run.result["metrics"], run.result["counts"]
        lo, hi = m["accuracy_ci95"] or (None, None)
        failures = c["model_errors"] + c["tool_errors"] + c["judge_errors"] + c["parse_errors"]
        table.add_row(
            str(run.mode),
            f"{pct(m['accuracy'])} ({pct(lo)}-{pct(hi)})",
            pct(m["search_ratio"]),
            pct(m["search_call_ratio"]),
            pct(m["correct_without_search"]),
            str(failures),
        )
    console.print(table)


def build_leaderboard(out: Path, runs: list[DemoRun]) -> Path:
    """Submit the demo runs to a results folder and render the static site; returns index.html."""
    from fvqa.leaderboard.add import add_run
    from fvqa.leaderboard.build import build_site

    results = out / "leaderboard" / "results"
    shutil.rmtree(results, ignore_errors=True)  # the demo's own folder: always this run's three modes
    results.mkdir(parents=True)
    for run in runs:
        add_run(run.out, results)
    report = build_site(results, out / "leaderboard" / "site")
    return Path(report.index)
