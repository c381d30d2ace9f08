"""Any dataset fvqa itself can read, as a benchmark: an fvqa dataset folder, an official FVQA parquet file or
folder, or an image folder with metadata (`fvqa.sources`).

This is the loader behind `load_benchmark(<dataset path>)` and suites with `loader: dataset`.
Subset rule: every row; rows `fvqa.sources` cannot turn into samples are skipped with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from fvqa import sources
from fvqa.eval.benchmarks.base import Candidates, Row, Skipped, require_path


def dataset_rows(path: Path) -> tuple[list[Row], list[Skipped]]:
    """One row per record `fvqa.sources` finds under `path`; unreadable records are skipped."""
    rows: list[Row] = []
    skipped: list[Skipped] = []
    for record in sources.iter_records(path):
        if record.sample_id is None:
            skipped.append((record.location, record.error or "row could not be read"))
            continue
        rows.append(Row(record.sample_id, record.location, partial(sources.to_sample, record)))
    return rows, skipped


def load(paths: Mapping[str, Path], subset: Mapping[str, Any]) -> Candidates:
    target = require_path(paths, "data", "an fvqa dataset, official FVQA parquet or image folder", folder=None)
    rows, skipped = dataset_rows(target)
    return Candidates(rows, skipped, f"every row of {target.name} ({len(rows) + len(skipped)} rows)")
