"""InfoSeek (Chen et al., 2023, "Can Pre-trained Vision and Language Models Answer Visual Information-Seeking
Questions?", arXiv:2302.11713), validation split, with the OVEN images.

Layout, confirmed from the release README of open-vision-language/infoseek and the evaluation
code of edchengg/infoseek_eval and edchengg/oven_eval:

- `infoseek_val.jsonl`, one object a line: `data_id` (`infoseek_val_00000000`), `image_id`
  (`oven_04990048`), `question`, `answer` (a list, the standard form first), `answer_eval`
  (the accepted forms: strings, or for numerical questions `{"wikidata": 1.0, "range": [0.9, 1.1]}`),
  `data_split` (`val_unseen_question` or `val_unseen_entity`). Some copies add `answer_eng`
  (English forms, kept as aliases) or an inline `question_type`;
- `infoseek_val_qtype.jsonl` (optional, `paths.qtype`, ignored when absent): `data_id`,
  `question_type` (String, Numerical, Time);
- images (`paths.images`): the OVEN snapshot `oven_images/<first two digits>/<image_id>.<ext>`;
  a flat folder or any subfolders also work, and `paths.id2image` may name a JSON Lines
  file of `image_id`, `image_path` (relative to that file's folder).

The answer is the first `answer`; every other form is an alias. A numerical range has no
exact-match form, so it is kept in `meta["infoseek"]["answer_range"]` for the judge.

Subset rule: the MMSearch-R1 paper evaluates a 2,000-question InfoSeek subset. By default fvqa
keeps the rows whose `data_split` starts with `subset.split` (val) and draws a seeded random
`subset.size` (2,000) of them with `subset.seed` (0), over sorted `data_id`s, before any image is
read. Chosen rows that fail (missing image, empty question) are skipped, not replaced, so the
selection never depends on which files a machine has. To evaluate the paper's exact subset, point
`paths.subset_file` at the MMSearch-R1 repository's `mmsearch_r1_infoseek_sub_2k.parquet`
(official FVQA layout, as its `mini_data.pq` is): every row of it is kept.

Tested offline on hand-written rows in this layout (tests/eval/data/infoseek); the real data could
not be downloaded here.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from fvqa.eval.benchmarks.base import (
    Candidates,
    Row,
    Skipped,
    answer_and_aliases,
    json_records,
    number_text,
    pick,
    question_text,
    require_path,
    texts,
)
from fvqa.eval.benchmarks.dataset import dataset_rows
from fvqa.eval.benchmarks.image_files import ImageFolder
from fvqa.schema import Sample, make_sample_id, new_sample

SOURCE = "infoseek"
DEFAULT_SPLIT = "val"
DEFAULT_SIZE = 2000


def load(paths: Mapping[str, Path], subset: Mapping[str, Any]) -> Candidates:
    if "subset_file" in paths:
        return _released_subset(paths)
    annotations = require_path(paths, "annotations", "InfoSeek annotations such as infoseek_val.jsonl")
    images = ImageFolder(
        require_path(paths, "images", "the OVEN image folder", folder=True), _id2image(paths.get("id2image"))
    )
    split = str(subset.get("split", DEFAULT_SPLIT))
    size, seed = int(subset.get("size", DEFAULT_SIZE)), int(subset.get("seed", 0))
    qtypes = _question_types(paths.get("qtype"))
    rows: list[Row] = []
    skipped: list[Skipped] = []
    total = 0
    for where, record in json_records(annotations, skipped):
        total += 1
        data_id = texts(record.get("data_id"))
        if not data_id:
            skipped.append((where, "no data_id"))
            continue
        data_split = record.get("data_split")
        if not isinstance(data_split, str):
            skipped.append((f"{where} ({data_id[0]})", "no data_split, so its split is unknown"))
            continue
        if data_split.startswith(split):
            key = make_sample_id(SOURCE, data_id[0])
            where = f"{where} ({data_id[0]})"
            build = partial(_sample, record, data_id[0], split, images, qtypes.get(data_id[0]))
            rows.append(Row(key, where, build))
    in_split = len(rows)
    found = f"{split}-split questions in {annotations.name} ({total} readable records"
    drawn = (
        f"a seeded random {size} of the {in_split} {found}; subset seed {seed})"
        if size < in_split
        else f"all {in_split} {found}; fewer than the subset size {size})"
    )
    rule = f"{drawn}, standing in for the 2,000-question InfoSeek subset the MMSearch-R1 paper evaluates"
    return Candidates(pick(rows, size, seed), skipped, rule)


def _released_subset(paths: Mapping[str, Path]) -> Candidates:
    """Every row of the MMSearch-R1 repository's InfoSeek subset file."""
    data = require_path(paths, "subset_file", "mmsearch_r1_infoseek_sub_2k.parquet (official FVQA layout)")
    rows, skipped = dataset_rows(data)
    return Candidates(rows, skipped, f"every question of {data.name}, the MMSearch-R1 InfoSeek subset")


def _sample(record: dict[str, Any], data_id: str, split: str, images: ImageFolder, qtype: str | None) -> Sample:
    question = question_text(record.get("question"))
    ranges: list[list[Any]] = []
    accepted: list[str] = []
    evals = record.get("answer_eval")
    for item in [evals] if isinstance(evals, dict | str) else evals or []:  # a lone numerical answer is no list
        if isinstance(item, dict):
            accepted += [number_text(item["wikidata"])] if isinstance(item.get("wikidata"), int | float) else []
            ranges += [item["range"][:2]] if isinstance(item.get("range"), list) else []
        else:
            accepted += texts(item)
    answer, aliases = answer_and_aliases([*texts(record.get("answer")), *texts(record.get("answer_eng")), *accepted])
    image_id = str(record.get("image_id") or "")
    shard = image_id.rsplit("_", 1)[-1][:2] if "_" in image_id else None
    details = {
        "image_id": image_id,
        "data_split": record.get("data_split"),
        "question_type": record.get("question_type") or qtype,
        "answer_range": [float(x) for x in ranges[0]] if ranges and ranges[0] else None,
    }
    return new_sample(
        source=SOURCE,
        source_id=data_id,
        split=split,
        question=question,
        answer=answer,
        aliases=aliases,
        image=images.read(image_id, shard),
        meta={SOURCE: {k: v for k, v in details.items() if v is not None}},
    )


def _question_types(path: Path | None) -> dict[str, str]:
    """`question_type` per `data_id`; optional, so a file that is not there gives none."""
    if path is None or not path.is_file():
        return {}
    found: list[Skipped] = []
    return {str(r["data_id"]): str(r["question_type"]) for _, r in json_records(path, found) if "question_type" in r}


def _id2image(path: Path | None) -> dict[str, Path]:
    if path is None:
        return {}
    found: list[Skipped] = []
    path = require_path({"id2image": path}, "id2image", "a JSON Lines file of image_id, image_path")
    return {
        str(r["image_id"]): path.parent / str(r["image_path"])
        for _, r in json_records(path, found)
        if "image_id" in r and "image_path" in r
    }
