"""The demo benchmark: the seed questions of fvqa's embedded demo world (`fvqa.demo.world`).

Always available offline: the world is built into `paths.world` (a cache folder) on first use,
from photos that installed packages carry, and reused while its spec is unchanged. These are
the only benchmark questions with fvqa taxonomy categories and search labels. It is the default
benchmark of the tests and of `fvqa demo`.

Subset rule: every seed question.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fvqa.demo.world import build_world, seed_samples
from fvqa.eval.benchmarks.base import BenchmarkError, Candidates, Row
from fvqa.schema import Sample


def load(paths: Mapping[str, Path], subset: Mapping[str, Any]) -> Candidates:
    if "world" not in paths:
        raise BenchmarkError("the demo suite needs paths.world: a cache folder for the built demo world")
    world = paths["world"]
    manifest = build_world(world)
    rows = [Row(s.id, f"questions.yaml ({s.source_id})", _given(s)) for s in seed_samples(world)]
    rule = f"all {len(rows)} seed questions of the demo world (spec {manifest['spec_hash'][:12]})"
    return Candidates(rows, [], rule)


def _given(sample: Sample) -> Callable[[], Sample]:
    return lambda: sample
