"""`build_site`: read a results folder, rank what can be ranked, and write the static site."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from fvqa.leaderboard.export import leaderboard_data, write_exports
from fvqa.leaderboard.pages import BenchmarkSite, benchmark_page, overview_page
from fvqa.leaderboard.plot import plot_tradeoff
from fvqa.leaderboard.run_page import run_page
from fvqa.leaderboard.submissions import RESULT_FILE, Refusal, load_results, slug
from fvqa.leaderboard.tables import Benchmark, group_runs

MARKER = ".fvqa-leaderboard"
"""A file in every built site: its presence allows `build_site` to replace the folder."""
ASSETS = ("leaderboard.css", "leaderboard.js")


@dataclass
class BuildReport:
    """What `build_site` wrote, and which submissions it refused (with reasons)."""

    out_dir: Path
    index: Path
    leaderboard_json: Path
    leaderboard_csv: Path
    benchmark_pages: dict[str, Path] = field(default_factory=dict)
    """Benchmark name -> its page."""
    run_pages: dict[str, Path] = field(default_factory=dict)
    """Run key -> its detail page."""
    refused: list[Refusal] = field(default_factory=list)
    ranked: int = 0
    """Runs on the site (main and separate tables)."""


def _slugs(benchmarks: list[Benchmark]) -> list[str]:
    taken: set[str] = set()
    slugs = []
    for benchmark in benchmarks:
        base = candidate = slug(benchmark.name, 60)
        number = 2
        while candidate in taken:
            candidate, number = f"{base}-{number}", number + 1
        taken.add(candidate)
        slugs.append(candidate)
    return slugs


def _prepare(out_dir: Path) -> Path:
    """A fresh staging folder beside `out_dir`; refuse to replace a folder that is not a built site."""
    if out_dir.exists() and (not out_dir.is_dir() or (any(out_dir.iterdir()) and not (out_dir / MARKER).exists())):
        raise FileExistsError(f"{out_dir} exists and is not a leaderboard site built by fvqa: choose another --out")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))


def _publish(staging: Path, out_dir: Path) -> None:
    if out_dir.exists():
        shutil.rmtree(out_dir)
    staging.rename(out_dir)


def build_site(results_dir: Path, out_dir: Path, *, generated: str | None = None) -> BuildReport:
    """Render the leaderboard of every run under `results_dir` into `out_dir` (replaced as a whole).

    Malformed submissions are refused and listed on the overview page and in the report; the
    others still build. `generated` fixes the build time shown on the pages (default: now).
    """
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    accepted, refused = load_results(results_dir)
    benchmarks = group_runs(accepted)
    generated = generated or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    staging = _prepare(out_dir)
    try:
        sites = _write_site(staging, benchmarks, refused, generated)
        write_exports(staging, leaderboard_data(sites, refused, generated))
        (staging / MARKER).write_text("built by fvqa leaderboard build; this folder is replaced on each build\n")
        staging.chmod(0o755)
        _publish(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    report = BuildReport(out_dir, out_dir / "index.html", out_dir / "leaderboard.json", out_dir / "leaderboard.csv")
    report.refused = refused
    for site in sites:
        report.benchmark_pages[site.benchmark.name] = out_dir / "benchmarks" / f"{site.slug}.html"
        for table in site.benchmark.tables:
            for row in table.rows:
                report.run_pages[row.submission.key] = out_dir / "runs" / f"{row.submission.key}.html"
    report.ranked = len(report.run_pages)
    return report


def _write_site(root: Path, benchmarks: list[Benchmark], refused: list[Refusal], generated: str) -> list[BenchmarkSite]:
    for folder in ("assets", "benchmarks", "runs"):
        (root / folder).mkdir()
    static = resources.files("fvqa.leaderboard") / "static"
    for name in ASSETS:
        (root / "assets" / name).write_bytes((static / name).read_bytes())
    sites = []
    for benchmark, benchmark_slug in zip(benchmarks, _slugs(benchmarks), strict=True):
        plots: list[str | None] = []
        left_out = []
        for index, table in enumerate(benchmark.tables):
            name = f"{benchmark_slug}-{index + 1}.png"
            left_out.append(plot_tradeoff(table, root / "benchmarks" / name))
            plots.append(name)
        site = BenchmarkSite(benchmark, benchmark_slug, plots, left_out)
        sites.append(site)
        (root / "benchmarks" / f"{benchmark_slug}.html").write_text(benchmark_page(site, generated), encoding="utf-8")
        for table in benchmark.tables:
            for row in table.rows:
                run = row.submission
                page = run_page(run, table, row, benchmark_slug, generated)
                (root / "runs" / f"{run.key}.html").write_text(page, encoding="utf-8")
                shutil.copyfile(run.folder / RESULT_FILE, root / "runs" / f"{run.key}.result.json")
                if run.samples is not None:
                    shutil.copyfile(run.samples, root / "runs" / f"{run.key}.samples.jsonl")
    (root / "index.html").write_text(overview_page(sites, refused, generated), encoding="utf-8")
    return sites
