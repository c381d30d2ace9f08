"""FVQA-test: the held-out split of FactualVQA released with MMSearch-R1 (Wu et al., 2025, arXiv:2506.20670),
Hugging Face dataset `lmms-lab/FVQA`, file `fvqa_test.parquet`.

Layout (confirmed: the official FVQA format of DESIGN.md, read by `fvqa.official`): one row per
question with `prompt` (one user message holding the question), `images` (one `{bytes, path}`),
`reward_model` (`ground_truth`, `candidate_answers` as a JSON list, `style`), `data_source`,
`image_urls` and `data_id`; the test file has no `category` column, so search labels stay
unknown and no taxonomy category is set. Ids are the file's own `data_id`s.

Subset rule: every row. The loader accepts anything `fvqa.sources` reads (an fvqa dataset folder
too), so a re-exported copy of the test split loads the same way.

Tested offline on a hand-made file in this layout (tests/eval/test_benchmarks.py); the real file
could not be downloaded here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fvqa.eval.benchmarks.base import Candidates, require_path
from fvqa.eval.benchmarks.dataset import dataset_rows


def load(paths: Mapping[str, Path], subset: Mapping[str, Any]) -> Candidates:
    data = require_path(paths, "data", "fvqa_test.parquet in the official FVQA layout", folder=None)
    rows, skipped = dataset_rows(data)
    return Candidates(rows, skipped, f"every question of {data.name} ({len(rows) + len(skipped)} rows)")
