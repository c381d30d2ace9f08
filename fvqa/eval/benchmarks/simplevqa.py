"""SimpleVQA (Cheng et al., 2025, "SimpleVQA: Multimodal Factuality Evaluation for Multimodal Large Language
Models", arXiv:2502.13059), Hugging Face dataset `m-a-p/SimpleVQA`, split `test` (`test.parquet`, 2,025 rows).

Layout, confirmed from the dataset's file list and the two loaders that read it (lmms-eval
`tasks/simplevqa`, evalscope `benchmarks/simple_vqa`): one row per question with `data_id`
(an integer), `question`, `answer`, `image` (the picture as base64 text; a `{bytes, path}`
struct or raw bytes are accepted too), `language` (`EN` or `CN`), `original_category` (e.g.
`中华文化_中医`), `source` (the web page the fact comes from), `image_description`,
`atomic_question` and `atomic_fact`. The same records as a JSON list
(`simpleVQA_final_modified.json`) or JSON Lines load too. Everything but the question, answer
and image is kept in `meta["simplevqa"]`; SimpleVQA's categories are not fvqa's taxonomy, so no
category is set.

Subset rule: the MMSearch-R1 paper evaluates SimpleVQA's 1,013 English questions; fvqa keeps the
rows whose `language` is one of `subset.languages` (default `[EN]`, compared case-insensitively).
A row without a language cannot be placed and is skipped.

Tested offline on hand-made rows in this layout (tests/eval/data/simplevqa); the real data could
not be downloaded here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from fvqa.eval.benchmarks.base import (
    Candidates,
    Row,
    Skipped,
    answer_and_aliases,
    json_records,
    question_text,
    require_path,
    texts,
)
from fvqa.eval.benchmarks.image_files import cell_image_bytes
from fvqa.schema import Sample, make_sample_id, new_sample

SOURCE = "simplevqa"
SPLIT = "test"
DEFAULT_LANGUAGES = ("EN",)
KEPT_FIELDS = ("language", "original_category", "source", "image_description", "atomic_question", "atomic_fact")


def load(paths: Mapping[str, Path], subset: Mapping[str, Any]) -> Candidates:
    data = require_path(paths, "data", "SimpleVQA's test.parquet (or the same records as JSON)")
    languages = [str(x) for x in subset.get("languages", DEFAULT_LANGUAGES)]
    wanted = {x.upper() for x in languages}
    rows: list[Row] = []
    skipped: list[Skipped] = []
    total = 0
    for where, record in _records(data, skipped):
        total += 1
        data_id = texts(record.get("data_id"))
        if not data_id:
            skipped.append((where, "no data_id"))
            continue
        where = f"{where} ({data_id[0]})"
        language = record.get("language")
        if not isinstance(language, str) or not language.strip():
            skipped.append((where, "no language, so the language subset cannot place it"))
            continue
        if language.strip().upper() in wanted:
            rows.append(Row(make_sample_id(SOURCE, data_id[0]), where, partial(_sample, record, data_id[0])))
    rule = f"the {len(rows)} of {total} questions in {data.name} whose language is {' or '.join(languages)}"
    return Candidates(rows, skipped, rule)


def _records(path: Path, skipped: list[Skipped]) -> Iterator[tuple[str, dict[str, Any]]]:
    if path.suffix in (".json", ".jsonl"):
        yield from json_records(path, skipped)
        return
    index = 0
    with pq.ParquetFile(path) as parquet:
        for batch in parquet.iter_batches(batch_size=32):
            for record in batch.to_pylist():
                yield f"{path.name}:{index}", record
                index += 1


def _sample(record: dict[str, Any], data_id: str) -> Sample:
    question = question_text(record.get("question"))
    answer, aliases = answer_and_aliases(texts(record.get("answer")))
    image = cell_image_bytes(record.get("image"))
    if image is None:
        raise ValueError("no image")
    details = {k: record[k] for k in KEPT_FIELDS if record.get(k) not in (None, "")}
    return new_sample(
        source=SOURCE,
        source_id=data_id,
        split=SPLIT,
        question=question,
        answer=answer,
        aliases=aliases,
        image=image,
        meta={SOURCE: details},
    )
