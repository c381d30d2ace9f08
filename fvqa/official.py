"""The official FVQA / MMSearch-R1 parquet format, read and written losslessly.

One row per sample: `prompt` (a one-message chat list whose content is the question),
`images` (a list of one `{bytes, path}` struct), `reward_model` (`ground_truth`,
`candidate_answers` as a JSON string, `style`), `data_source`, `image_urls`, and in some
files `data_id` and `category` (`search_free` / `search_required`). Whatever an official
row holds that the fvqa record has no field for is kept in `meta["official"]`, so that
reading a file and writing it back gives the same values.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from fvqa.dataset_io import iter_parquet_rows
from fvqa.images import sha256_hex
from fvqa.schema import Sample, SearchLabel, make_sample_id

REQUIRED_COLUMNS = ("prompt", "images", "reward_model")
OPTIONAL_COLUMNS = ("data_source", "image_urls", "data_id", "category")
ALL_COLUMNS = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)

_STR = pa.string()
_ARROW_TYPES: dict[str, pa.DataType] = {
    "prompt": pa.list_(pa.struct([("content", _STR), ("role", _STR)])),
    "images": pa.list_(pa.struct([("bytes", pa.binary()), ("path", _STR)])),
    "reward_model": pa.struct([("candidate_answers", _STR), ("ground_truth", _STR), ("style", _STR)]),
    "data_source": _STR,
    "image_urls": pa.list_(_STR),
    "data_id": _STR,
    "category": _STR,
}

_OFFICIAL_TO_LABEL = {"search_free": SearchLabel.SEARCH_FREE}


class OfficialRowError(ValueError):
    """An official row that cannot be mapped to a sample; names the row and the reason."""


def is_official_columns(columns: Iterable[str]) -> bool:
    return set(REQUIRED_COLUMNS) <= set(columns)


def split_from_source(data_source: str) -> str:
    """The split a `data_source` such as `mmsearch_r1/fvqa_test` names (train by default)."""
    name = data_source.rsplit("/", 1)[-1].lower()
    for marker, split in (("test", "test"), ("val", "validation"), ("dev", "validation"), ("train", "train")):
        if marker in name:
            return split
    return "train"


def _question(prompt: Any, where: str) -> tuple[str, bool]:
    """The question in a prompt, and whether the prompt is exactly one bare user message."""
    if not isinstance(prompt, list) or not prompt:
        raise OfficialRowError(f"{where}: `prompt` is empty or not a list of messages")
    users = [m for m in prompt if isinstance(m, dict) and m.get("role") == "user"]
    if not users or not isinstance(users[-1].get("content"), str):
        raise OfficialRowError(f"{where}: `prompt` has no user message with text content")
    return users[-1]["content"], len(prompt) == 1


def _aliases(raw: Any, where: str) -> list[str]:
    if raw is None or raw == "":
        return []
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as err:
        raise OfficialRowError(f"{where}: `candidate_answers` is not valid JSON ({err.msg})") from None
    if not isinstance(parsed, list) or not all(isinstance(a, str) for a in parsed):
        raise OfficialRowError(f"{where}: `candidate_answers` must be a JSON list of strings")
    return parsed


def official_row_fields(row: dict[str, Any], *, index: int, default_source: str) -> dict[str, Any]:
    """Sample fields (less the image hashes) from one official row.

    `index` and `default_source` only name the row in errors and stand in for a missing
    `data_source`; the id never depends on row order: it is `data_id` when the file has
    one, else a digest of the question and the image bytes.
    """
    missing = [c for c in REQUIRED_COLUMNS if row.get(c) is None]
    where = f"row {index}" + (f" ({row['data_id']})" if row.get("data_id") else "")
    if missing:
        raise OfficialRowError(f"{where}: missing {', '.join(missing)}")
    question, bare_prompt = _question(row["prompt"], where)
    images = row["images"]
    if not isinstance(images, list) or not images or not isinstance(images[0], dict):
        raise OfficialRowError(f"{where}: `images` holds no image")
    image = images[0].get("bytes") or b""
    reward = row["reward_model"]
    if not isinstance(reward, dict):
        raise OfficialRowError(f"{where}: `reward_model` is not a struct")
    source = row.get("data_source") or default_source
    source_id = (
        row.get("data_id")
        or "q" + hashlib.sha256(question.encode() + b"\x1f" + sha256_hex(image).encode()).hexdigest()[:16]
    )
    if len(images) > 1:
        raise OfficialRowError(f"{where}: {len(images)} images; an fvqa sample holds exactly one")
    urls = row.get("image_urls") or []
    official: dict[str, Any] = {
        "columns": [c for c in ALL_COLUMNS if c in row],
        "candidate_answers": reward.get("candidate_answers"),
        "style": reward.get("style"),
        "image_path": images[0].get("path"),
    }
    for key in ("data_id", "category"):
        if key in row:
            official[key] = row[key]
    if not bare_prompt:
        official["prompt"] = row["prompt"]
    if len(urls) > 1:
        official["image_urls"] = urls
    return {
        "id": make_sample_id(source, source_id),
        "source": source,
        "source_id": source_id,
        "split": split_from_source(source),
        "question": question,
        "answer": reward.get("ground_truth") or "",
        "aliases": _aliases(reward.get("candidate_answers"), where),
        "image": image,
        "image_url": urls[0] if urls else None,
        "search_label": _OFFICIAL_TO_LABEL.get(row.get("category") or "", SearchLabel.UNKNOWN),
        "meta": {"official": official},
    }


def iter_official_rows(path: str | Path) -> Iterator[dict[str, Any]]:
    """Raw rows of an official parquet file; raises ValueError if it is not one."""
    names = pq.read_schema(path).names
    if not is_official_columns(names):
        missing = [c for c in REQUIRED_COLUMNS if c not in names]
        raise ValueError(f"{path}: not an official FVQA file (missing columns {', '.join(missing)})")
    yield from iter_parquet_rows(path)


def _official_category(sample: Sample, recorded: dict[str, Any]) -> str | None:
    if (
        "category" in recorded
        and _OFFICIAL_TO_LABEL.get(recorded["category"] or "", SearchLabel.UNKNOWN) == sample.search_label
    ):
        return recorded["category"]  # unchanged since it was read
    required = sample.search_label.requires_search
    return None if required is None else ("search_required" if required else "search_free")


def sample_to_official_row(sample: Sample) -> dict[str, Any]:
    """The official row of a sample; values read from an official file come back unchanged."""
    recorded: dict[str, Any] = sample.meta.get("official", {})
    raw_answers = recorded.get("candidate_answers")
    unchanged = raw_answers is not None and _safe_json(raw_answers) == sample.aliases
    prompt = recorded.get("prompt")
    if prompt is None or _question(prompt, sample.id)[0] != sample.question:
        prompt = [{"content": sample.question, "role": "user"}]
    return {
        "prompt": prompt,
        "images": [{"bytes": sample.image, "path": recorded.get("image_path")}],
        "reward_model": {
            "candidate_answers": raw_answers if unchanged else json.dumps(sample.aliases),
            "ground_truth": sample.answer,
            "style": recorded.get("style") or "rule",
        },
        "data_source": sample.source,
        "image_urls": _image_urls(sample, recorded),
        "data_id": recorded.get("data_id", sample.source_id),
        "category": _official_category(sample, recorded),
    }


def _image_urls(sample: Sample, recorded: dict[str, Any]) -> list[str] | None:
    urls = recorded.get("image_urls")
    if urls and urls[0] == sample.image_url:
        return list(urls)
    return [sample.image_url] if sample.image_url else None


def _safe_json(raw: str) -> Any:
    try:
        return json.loads(raw)
    except (TypeError, json.JSONDecodeError):
        return None


def official_columns(first: Sample) -> list[str]:
    """The columns to write: those the first sample's source file had, else all of them."""
    recorded = first.meta.get("official", {}).get("columns")
    return list(recorded) if recorded else list(ALL_COLUMNS)


def write_official(samples: Iterable[Sample], path: str | Path, *, row_group_rows: int = 64) -> int:
    """Stream samples into one official-format parquet file; returns the row count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    pending: list[dict[str, Any]] = []
    count = 0
    try:
        for sample in samples:
            if schema is None:
                schema = pa.schema([(c, _ARROW_TYPES[c]) for c in official_columns(sample)])
                writer = pq.ParquetWriter(partial, schema, compression="zstd")
            row = sample_to_official_row(sample)
            pending.append({c: row[c] for c in schema.names})
            count += 1
            if len(pending) >= row_group_rows:
                assert writer is not None
                writer.write_table(pa.Table.from_pylist(pending, schema=schema))
                pending.clear()
        if writer is None:  # no samples: an empty file with every column
            schema = pa.schema([(c, _ARROW_TYPES[c]) for c in ALL_COLUMNS])
            writer = pq.ParquetWriter(partial, schema, compression="zstd")
        if pending:
            writer.write_table(pa.Table.from_pylist(pending, schema=schema))
    finally:
        if writer is not None:
            writer.close()
    partial.replace(path)
    return count
