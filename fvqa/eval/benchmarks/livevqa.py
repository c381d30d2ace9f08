"""LiveVQA (Fu et al., 2025, "LiveVQA: Live Visual Knowledge Seeking", arXiv:2504.05288), the Research Preview
release: Hugging Face dataset `ONE-Lab/LiveVQA-Research-Preview` (gated).

Layout, ASSUMED: the dataset card is gated and could not be read here. What is known comes from
a third party's converter and its tests (search corpus, "process_livevqa_preview.py"), not from
the authors: the folder holds `qa.json`, a JSON list of `{sample_id, query, query_image,
gt_answer}` (e.g. `Movies_2_2`; `query_image` is a path on the authors' machine whose file name
is the image's name inside `image/`), an `image/` folder, and `qa_detailed.json` with `topic`
and `context` per `sample_id`. fvqa reads `paths.root` as that folder; it looks the image up by
file name inside `image/` only (never outside the folder). `gt_answer` may be a string or a
list (first = answer, rest = aliases). The part of `sample_id` before the first `_` (e.g.
`Movies`) and the `topic` are kept in `meta["livevqa"]`. The newer `LiveVQA-new`/`LiveVQA-2025`
releases use another layout and are not read here.

Subset rule: the MMSearch-R1 paper does not publish which LiveVQA items it used, so fvqa keeps
every question of `qa.json`; `subset.sections` (a list such as `[Movies, Sports]`) narrows it to
those `sample_id` prefixes. Use `--limit` for a seeded sample.

Tested offline on hand-written rows in this assumed layout (tests/eval/data/livevqa); the real data
could not be downloaded here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import partial
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from fvqa.eval.benchmarks.base import (
    BenchmarkError,
    Candidates,
    Row,
    Skipped,
    answer_and_aliases,
    json_records,
    listed,
    question_text,
    require_path,
    texts,
)
from fvqa.eval.benchmarks.image_files import ImageFolder
from fvqa.schema import Sample, make_sample_id, new_sample

SOURCE = "livevqa"
SPLIT = "test"
QA_FILE = "qa.json"
DETAILS_FILE = "qa_detailed.json"
IMAGE_DIR = "image"


def load(paths: Mapping[str, Path], subset: Mapping[str, Any]) -> Candidates:
    root = require_path(paths, "root", f"the LiveVQA Research Preview folder ({QA_FILE}, {IMAGE_DIR}/)", folder=True)
    qa = require_path({"root": root / QA_FILE}, "root", f"{QA_FILE} inside the LiveVQA folder")
    images = ImageFolder(require_path({"root": root / IMAGE_DIR}, "root", f"{IMAGE_DIR}/ inside it", folder=True))
    topics = _topics(root / DETAILS_FILE)
    sections = [str(s) for s in subset.get("sections") or []]
    rows: list[Row] = []
    skipped: list[Skipped] = []
    total = 0
    for where, record in json_records(qa, skipped):
        total += 1
        sample_id = texts(record.get("sample_id"))
        if not sample_id:
            skipped.append((where, "no sample_id"))
            continue
        section = sample_id[0].split("_", 1)[0]
        if sections and section not in sections:
            continue
        where = f"{where} ({sample_id[0]})"
        build = partial(_sample, record, sample_id[0], section, topics.get(sample_id[0]), images)
        rows.append(Row(make_sample_id(SOURCE, sample_id[0]), where, build))
    scope = f" in sections {', '.join(sections)}" if sections else ""
    return Candidates(rows, skipped, f"the {len(rows)} of {total} questions of {QA_FILE}{scope}")


def _sample(record: dict[str, Any], sample_id: str, section: str, topic: str | None, images: ImageFolder) -> Sample:
    question = question_text(record.get("query"))
    answer, aliases = answer_and_aliases(texts(listed(record.get("gt_answer"))))
    query_image = str(record.get("query_image") or "")
    name = PureWindowsPath(query_image).name if "\\" in query_image else PurePosixPath(query_image).name
    if not name:
        raise ValueError("no query_image")
    details = {"section": section, "topic": topic, "query_image": query_image}
    return new_sample(
        source=SOURCE,
        source_id=sample_id,
        split=SPLIT,
        question=question,
        answer=answer,
        aliases=aliases,
        image=images.read(name),
        meta={SOURCE: {k: v for k, v in details.items() if v}},
    )


def _topics(path: Path) -> dict[str, str]:
    """`topic` per `sample_id` from qa_detailed.json (a list of records, or a mapping keyed by sample_id)."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise BenchmarkError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None
    if isinstance(data, dict):
        data = [{"sample_id": key, **value} for key, value in data.items() if isinstance(value, dict)]
    records = [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []
    return {str(r["sample_id"]): str(r["topic"]) for r in records if r.get("sample_id") and r.get("topic")}
