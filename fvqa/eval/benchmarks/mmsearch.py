"""MMSearch (Jiang et al., 2024, "MMSearch: Benchmarking the Potential of Large Models as Multi-modal Search
Engines", arXiv:2409.12959), Hugging Face dataset `CaraJ/MMSearch`, config and split `end2end`.

Layout, confirmed from the dataset's file list (`end2end.parquet`, 300 rows) and the code that
reads it (CaraJ7/MMSearch `eval_end2end.py`, lmms-eval `tasks/mmsearch`): one row per question
with `sample_id`, `query`, `query_image` (a Hugging Face `Image`, i.e. a `{bytes, path}` struct,
null for text-only questions), `image_search_result`, `area` (news or knowledge), `subfield`,
`timestamp`, `gt_requery`, `gt_answer` and `alternative_gt_answers` (a list of strings).
`gt_answer` is the answer and `alternative_gt_answers` the aliases; area, subfield, timestamp
and the reference requery are kept in `meta["mmsearch"]` (MMSearch's areas are not fvqa's
taxonomy, so no category is set). The screenshot of the image search is not read.

Subset rule: the MMSearch-R1 paper evaluates the 171 questions that come with an image; fvqa
keeps every row whose `query_image` is not null (a text-only question cannot become an fvqa
sample, which always has an image). A row whose image is present but unusable is skipped.

Tested offline on a hand-made file in this layout (tests/eval/data/mmsearch); the real data could
not be downloaded here.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from fvqa.eval.benchmarks.base import (
    BenchmarkError,
    Candidates,
    Row,
    Skipped,
    answer_and_aliases,
    listed,
    question_text,
    require_path,
    texts,
)
from fvqa.eval.benchmarks.image_files import cell_image_bytes
from fvqa.schema import Sample, make_sample_id, new_sample

SOURCE = "mmsearch"
SPLIT = "end2end"
REQUIRED = ("sample_id", "query", "query_image", "gt_answer")
OPTIONAL = ("alternative_gt_answers", "area", "subfield", "timestamp", "gt_requery")


def load(paths: Mapping[str, Path], subset: Mapping[str, Any]) -> Candidates:
    data = require_path(paths, "data", "MMSearch's end2end.parquet")
    names = pq.read_schema(data).names
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise BenchmarkError(f"{data}: missing MMSearch columns {missing} (found {names})")
    rows: list[Row] = []
    skipped: list[Skipped] = []
    total = 0
    with pq.ParquetFile(data) as parquet:
        columns = [c for c in (*REQUIRED, *OPTIONAL) if c in names]
        for batch in parquet.iter_batches(batch_size=32, columns=columns):
            for record in batch.to_pylist():
                where = f"{data.name}:{total}"
                total += 1
                sample_id = texts(record.get("sample_id"))
                if not sample_id:
                    skipped.append((where, "no sample_id"))
                    continue
                if record.get("query_image") is None:
                    continue  # a text-only question: outside the subset, not a bad row
                where = f"{where} ({sample_id[0]})"
                build = partial(_sample, record, sample_id[0])
                rows.append(Row(make_sample_id(SOURCE, sample_id[0]), where, build))
    rule = f"the {len(rows)} of {total} questions in {data.name} that come with a query image"
    return Candidates(rows, skipped, rule)


def _sample(record: dict[str, Any], sample_id: str) -> Sample:
    question = question_text(record.get("query"))
    answer, aliases = answer_and_aliases(
        [*texts(record.get("gt_answer")), *texts(listed(record.get("alternative_gt_answers")))]
    )
    image = cell_image_bytes(record.get("query_image"))
    if image is None:
        raise ValueError("the query image holds no bytes")
    details = {k: str(record[k]) for k in ("area", "subfield", "timestamp", "gt_requery") if record.get(k) is not None}
    return new_sample(
        source=SOURCE,
        source_id=sample_id,
        split=SPLIT,
        question=question,
        answer=answer,
        aliases=aliases,
        image=image,
        meta={SOURCE: details},
    )
