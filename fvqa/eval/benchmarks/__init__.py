"""Benchmark loaders: each benchmark's source data mapped to fvqa `Sample`s, one short module per benchmark.

`load_benchmark(name_or_path, limit=None, seed=0)` accepts a registered name (the suite file
`eval/benchmarks/<name>.yaml`, see `suite.py`), a path to a suite yaml, or a dataset fvqa can
read (treated as a generic fvqa / official FVQA dataset). It returns a `Benchmark`: the samples,
an order-independent data hash, the subset rule in words, the source to cite, and every row
that could not be used with its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fvqa.eval.benchmarks import dataset, demo, fvqa_test, infoseek, livevqa, mmsearch, simplevqa
from fvqa.eval.benchmarks.base import Benchmark, BenchmarkError, Candidates, assemble
from fvqa.eval.benchmarks.suite import Suite, benchmarks_dir, read_suite, registered, suite_file

Loader = Callable[[Mapping[str, Path], Mapping[str, Any]], Candidates]

LOADERS: dict[str, Loader] = {
    "fvqa_test": fvqa_test.load,
    "infoseek": infoseek.load,
    "mmsearch": mmsearch.load,
    "simplevqa": simplevqa.load,
    "livevqa": livevqa.load,
    "demo": demo.load,
    "dataset": dataset.load,
}
"""Loader name (a suite's `loader:`) to the function that reads that benchmark's layout."""

DEFAULT_BENCHMARK = "demo"


def load_suite(suite: Suite, *, limit: int | None = None, seed: int = 0) -> Benchmark:
    """Run a suite's loader and assemble its benchmark."""
    if suite.loader not in LOADERS:
        where = f"{suite.file}: " if suite.file else ""
        raise BenchmarkError(f"{where}unknown loader {suite.loader!r}; expected one of {sorted(LOADERS)}")
    found = LOADERS[suite.loader](suite.paths, suite.subset)
    return assemble(suite.name, found, source=suite.source or suite.name, limit=limit, seed=seed)


def resolve_suite(name_or_path: str | Path) -> Suite:
    """The suite behind a registered name, a suite yaml path or a dataset path."""
    text = str(name_or_path)
    registered_file = suite_file(text) if text and Path(text).name == text else None
    if registered_file is not None:  # a bare name: the registry wins over a same-named folder
        return read_suite(registered_file)
    path = Path(text).expanduser()
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return read_suite(path)
    if path.exists():
        name = path.stem if path.is_file() else path.name
        return Suite(name=name, loader="dataset", paths={"data": path}, source=f"local dataset {path.resolve()}")
    known = ", ".join(registered()) or "none"
    raise BenchmarkError(
        f"{text!r} is neither a registered benchmark (in {benchmarks_dir()}: {known}) nor an existing path"
    )


def load_benchmark(name_or_path: str | Path, *, limit: int | None = None, seed: int = 0) -> Benchmark:
    """Load a benchmark by registered name, suite yaml path or dataset path.

    `limit` keeps a seeded random subset of that many questions (`random.Random(seed)` over the
    sorted sample ids), the same on every run; rows that fail to load are in `skipped`.
    """
    return load_suite(resolve_suite(name_or_path), limit=limit, seed=seed)


__all__ = [
    "DEFAULT_BENCHMARK",
    "LOADERS",
    "Benchmark",
    "BenchmarkError",
    "Suite",
    "benchmarks_dir",
    "load_benchmark",
    "load_suite",
    "read_suite",
    "registered",
    "resolve_suite",
]
