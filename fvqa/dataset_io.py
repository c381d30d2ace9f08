"""A dataset on disk: a folder of parquet shards with images embedded, plus a manifest.

Layout (readable by `datasets.load_dataset(folder)` and by plain pyarrow)::

    DST/README.md                          dataset card whose YAML `configs` name the shards
    DST/fvqa_manifest.json                 counts, schema version, content hash, file hashes
    DST/data/<split>-00000-of-00003.parquet

Writing and reading both stream: a writer holds one open shard per split, a reader one
record batch. The content hash depends on the samples only, not on order or sharding.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from fvqa import __version__
from fvqa.schema import SCHEMA_VERSION, Sample

MANIFEST_NAME = "fvqa_manifest.json"
DATA_DIR = "data"
DEFAULT_SHARD_ROWS = 1000
DEFAULT_SHARD_BYTES = 256 * 2**20

_STR = pa.string()
ARROW_SCHEMA = pa.schema(
    [
        ("id", _STR),
        ("source", _STR),
        ("source_id", _STR),
        ("split", _STR),
        ("question", _STR),
        ("answer", _STR),
        ("aliases", pa.list_(_STR)),
        ("image", pa.struct([("bytes", pa.binary()), ("path", _STR)])),
        ("image_sha256", _STR),
        ("image_url", _STR),
        ("category", _STR),
        ("subcategory", _STR),
        ("search_label", _STR),
        ("phash", _STR),
        (
            "review",
            pa.struct([("status", _STR), ("annotators", pa.list_(_STR)), ("agreement", pa.float64())]),
        ),
        (
            "history",
            pa.list_(pa.struct([("step", _STR), ("decision", _STR), ("reason", _STR), ("at", _STR)])),
        ),
        ("meta", _STR),
    ]
)


def _hf_features() -> dict[str, Any]:
    """The `datasets` feature description of ARROW_SCHEMA, so `image` loads as an Image."""

    def value(arrow_type: pa.DataType) -> dict[str, Any]:
        if pa.types.is_list(arrow_type):
            return {"feature": value(arrow_type.value_type), "_type": "List"}
        if pa.types.is_struct(arrow_type):
            return {f.name: value(f.type) for f in arrow_type}
        dtype = "float64" if pa.types.is_float64(arrow_type) else "string"
        return {"dtype": dtype, "_type": "Value"}

    features = {f.name: value(f.type) for f in ARROW_SCHEMA}
    features["image"] = {"_type": "Image"}
    return features


_SCHEMA_WITH_FEATURES = ARROW_SCHEMA.with_metadata(
    {b"huggingface": json.dumps({"info": {"features": _hf_features()}}).encode()}
)


def sample_to_row(sample: Sample) -> dict[str, Any]:
    """The parquet row of a sample (image embedded, meta as a JSON string)."""
    row = sample.model_dump(mode="python")
    row["image"] = {"bytes": sample.image, "path": f"{sample.image_sha256}.img"}
    row["meta"] = json.dumps(sample.meta, sort_keys=True, ensure_ascii=False)
    for key in ("category", "search_label"):
        row[key] = None if row[key] is None else str(row[key])
    row["review"]["status"] = str(row["review"]["status"])
    return row


def row_to_fields(row: dict[str, Any]) -> dict[str, Any]:
    """Sample fields from a parquet row, without validating them."""
    fields = dict(row)
    image = fields.get("image")
    fields["image"] = image.get("bytes") if isinstance(image, dict) else image
    meta = fields.get("meta")
    fields["meta"] = json.loads(meta) if isinstance(meta, str) and meta else {}
    for key in ("aliases", "history"):
        if fields.get(key) is None:
            fields[key] = []
    if fields.get("review") is None:
        fields.pop("review", None)
    return fields


def row_to_sample(row: dict[str, Any]) -> Sample:
    return Sample.model_validate(row_to_fields(row))


def sample_digest(fields: dict[str, Any]) -> bytes:
    """A digest of one sample's fields (the image by its hash) for the content hash."""
    content = {k: v for k, v in fields.items() if k != "image"}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).digest()


def combine_digests(digests: Iterable[bytes]) -> str:
    """The order-independent content hash of a set of sample digests."""
    total = hashlib.sha256()
    for digest in sorted(digests):
        total.update(digest)
    return "sha256:" + total.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


class DuplicateSampleError(ValueError):
    """A sample id was written twice to one dataset."""


ROW_GROUP_ROWS = 64
"""Rows per parquet row group: small enough to stream, large enough to compress."""


@dataclass
class _Shard:
    split: str
    index: int
    path: Path
    writer: pq.ParquetWriter
    rows: int = 0
    bytes: int = 0
    pending: list[dict[str, Any]] = field(default_factory=list)

    def flush(self) -> None:
        if self.pending:
            self.writer.write_table(pa.Table.from_pylist(self.pending, schema=_SCHEMA_WITH_FEATURES))
            self.pending.clear()


@dataclass
class DatasetWriter:
    """Streams samples into a dataset folder; leaving the `with` block finalises it.

    Shards are written under temporary names and renamed to `<split>-NNNNN-of-MMMMM`
    when the writer closes; the manifest and dataset card are written last, so a folder
    with a manifest is complete. A folder left without a manifest by an interrupted
    write is cleared and written afresh; a complete one is refused unless `overwrite`.
    """

    folder: Path
    shard_rows: int = DEFAULT_SHARD_ROWS
    shard_bytes: int = DEFAULT_SHARD_BYTES
    description: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    """Where the samples came from (free-form, kept in the manifest)."""
    overwrite: bool = False
    manifest: dict[str, Any] | None = None
    _open: dict[str, _Shard] = field(default_factory=dict)
    _done: list[_Shard] = field(default_factory=list)
    _ids: set[str] = field(default_factory=set)
    _digests: list[bytes] = field(default_factory=list)
    _counts: dict[str, Counter[str]] = field(
        default_factory=lambda: {k: Counter() for k in ("splits", "categories", "search_labels")}
    )

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        if (self.folder / MANIFEST_NAME).exists() and not self.overwrite:
            raise FileExistsError(f"{self.folder} already holds a dataset; pass overwrite or choose another folder")
        data = self.folder / DATA_DIR
        if data.exists():  # an interrupted or replaced write: its shards are stale
            for stale in [*data.glob("*.parquet"), *data.glob(".*.parquet.partial")]:
                stale.unlink()
            (self.folder / MANIFEST_NAME).unlink(missing_ok=True)
        data.mkdir(parents=True, exist_ok=True)

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.close()
            return
        for shard in self._open.values():  # leave no manifest: the folder reads as incomplete
            shard.writer.close()

    @property
    def count(self) -> int:
        return len(self._ids)

    def write(self, sample: Sample) -> None:
        """Append one sample; raises DuplicateSampleError (and writes nothing) on a repeated id."""
        if sample.id in self._ids:
            raise DuplicateSampleError(f"{sample.id}: duplicate sample id; it was already written")
        row = sample_to_row(sample)
        shard = self._shard_for(sample.split)
        shard.pending.append(row)
        shard.rows += 1
        shard.bytes += len(sample.image)
        self._ids.add(sample.id)
        self._digests.append(sample_digest(row_to_fields(row)))
        self._counts["splits"][sample.split] += 1
        self._counts["categories"][row["category"] or "none"] += 1
        self._counts["search_labels"][row["search_label"]] += 1
        if len(shard.pending) >= ROW_GROUP_ROWS:
            shard.flush()
        if shard.rows >= self.shard_rows or shard.bytes >= self.shard_bytes:
            self._finish(shard)

    def write_all(self, samples: Iterable[Sample]) -> int:
        for sample in samples:
            self.write(sample)
        return self.count

    def _shard_for(self, split: str) -> _Shard:
        if split not in self._open:
            index = sum(1 for s in self._done if s.split == split)
            path = self.folder / DATA_DIR / f".{split}-{index:05d}.parquet.partial"
            writer = pq.ParquetWriter(path, _SCHEMA_WITH_FEATURES, compression="zstd")
            self._open[split] = _Shard(split, index, path, writer)
        return self._open[split]

    def _finish(self, shard: _Shard) -> None:
        shard.flush()
        shard.writer.close()
        self._done.append(shard)
        del self._open[shard.split]

    def close(self) -> dict[str, Any]:
        """Finalise the folder (once) and return its manifest."""
        if self.manifest is not None:
            return self.manifest
        for shard in list(self._open.values()):
            self._finish(shard)
        files = []
        for split in sorted({s.split for s in self._done}):
            shards = [s for s in self._done if s.split == split]
            for shard in shards:
                final = self.folder / DATA_DIR / f"{split}-{shard.index:05d}-of-{len(shards):05d}.parquet"
                os.replace(shard.path, final)
                rel = final.relative_to(self.folder).as_posix()
                files.append({"path": rel, "split": split, "rows": shard.rows, "sha256": file_sha256(final)})
        self.manifest = {
            "format": "fvqa-dataset",
            "schema_version": SCHEMA_VERSION,
            "fvqa_version": __version__,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "content_hash": combine_digests(self._digests),
            "counts": {
                "samples": self.count,
                **{k: dict(sorted(v.items())) for k, v in self._counts.items()},
            },
            "files": files,
            "provenance": self.provenance,
        }
        (self.folder / "README.md").write_text(dataset_card(self.manifest, self.description), encoding="utf-8")
        (self.folder / MANIFEST_NAME).write_text(json.dumps(self.manifest, indent=2) + "\n", encoding="utf-8")
        return self.manifest


def write_dataset(samples: Iterable[Sample], folder: str | Path, **options: Any) -> dict[str, Any]:
    """Write `samples` to a new dataset folder; returns its manifest."""
    with DatasetWriter(Path(folder), **options) as writer:
        writer.write_all(samples)
    return writer.close()


def dataset_card(manifest: dict[str, Any], description: str = "") -> str:
    """A Hub dataset card whose YAML header lets `load_dataset(folder)` find every split."""
    splits = sorted({f["split"] for f in manifest["files"]})
    lines = ["---", "configs:", "- config_name: default", "  data_files:"]
    for split in splits:
        lines += [f"  - split: {split}", f"    path: {DATA_DIR}/{split}-*.parquet"]
    lines += ["---", "", "# FVQA-format dataset", ""]
    if description:
        lines += [description, ""]
    counts = manifest["counts"]
    lines += [
        f"{counts['samples']} samples written by fvqa {manifest['fvqa_version']} "
        f"(schema version {manifest['schema_version']}).",
        "",
        f"Content hash: `{manifest['content_hash']}`.",
        "",
        "| split | samples |",
        "|---|---|",
        *[f"| {s} | {n} |" for s, n in counts["splits"].items()],
        "",
    ]
    return "\n".join(lines)


def read_manifest(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / MANIFEST_NAME
    if not path.exists():
        raise FileNotFoundError(f"{folder} is not an fvqa dataset folder: {MANIFEST_NAME} is missing")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("schema_version", 0) > SCHEMA_VERSION:
        raise ValueError(
            f"{path}: schema version {manifest['schema_version']} is newer than this fvqa "
            f"understands ({SCHEMA_VERSION}); upgrade fvqa"
        )
    return manifest


def iter_parquet_rows(path: str | Path, batch_size: int = 64) -> Iterator[dict[str, Any]]:
    """Rows of one parquet file as dicts, one record batch in memory at a time."""
    with pq.ParquetFile(path) as parquet:
        for batch in parquet.iter_batches(batch_size=batch_size):
            yield from batch.to_pylist()


def dataset_files(folder: str | Path, split: str | None = None) -> list[Path]:
    """The shard files of a dataset folder, optionally of one split, in manifest order."""
    manifest = read_manifest(folder)
    return [Path(folder) / f["path"] for f in manifest["files"] if split is None or f["split"] == split]


def read_dataset(folder: str | Path, split: str | None = None) -> Iterator[Sample]:
    """Stream validated samples from a dataset folder."""
    for path in dataset_files(folder, split):
        for row in iter_parquet_rows(path):
            yield row_to_sample(row)
