"""Open any dataset fvqa understands and stream its rows, whatever its format.

Three formats: an fvqa dataset folder (or a single parquet file in the fvqa schema), the
official FVQA parquet layout (a file, or a folder of such files), and an image folder
(image files with an optional `metadata.jsonl`/`metadata.csv`, see `fvqa.imagefolder`). Rows come out as
`Record`s: the lenient field mapping of one row, or the reason it could not be mapped,
always with a location a person can find. `iter_samples` builds validated `Sample`s and
hands every row it cannot use to a callback, so one bad row never stops a run.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from pydantic import ValidationError

from fvqa import dataset_io, imagefolder, official
from fvqa.images import DEFAULT_MAX_PIXELS, ImageDecodeError, inspect_image
from fvqa.schema import Sample


class DatasetFormat(enum.StrEnum):
    FVQA = "fvqa"
    OFFICIAL = "official"
    IMAGEFOLDER = "imagefolder"


@dataclass(frozen=True)
class Record:
    """One row of a source: where it is, its sample fields or why it has none."""

    location: str
    fields: dict[str, Any] | None = None
    error: str | None = None
    file: str | None = None
    """The image's file name, for sources that keep images as files."""
    image_only: bool = False
    """True for a bare image file with no question (an image folder without metadata)."""

    @property
    def sample_id(self) -> str | None:
        return None if self.fields is None else self.fields.get("id")


@dataclass(frozen=True)
class Rejected:
    """A row that did not become a sample."""

    location: str
    sample_id: str | None
    reason: str


def _file_format(path: Path) -> DatasetFormat:
    try:
        names = pq.read_schema(path).names
    except Exception as err:  # pyarrow raises several types for a file that is not parquet
        raise ValueError(f"{path}: not a readable parquet file ({err})") from None
    if official.is_official_columns(names):
        return DatasetFormat.OFFICIAL
    if {"id", "question", "answer", "image"} <= set(names):
        return DatasetFormat.FVQA
    raise ValueError(f"{path}: parquet columns {names} are neither the fvqa nor the official FVQA layout")


def source_files(path: str | Path) -> list[tuple[Path, DatasetFormat]]:
    """The parquet files behind `path` and the format of each."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if path.is_dir():
        if (path / dataset_io.MANIFEST_NAME).exists():
            return [(p, DatasetFormat.FVQA) for p in dataset_io.dataset_files(path)]
        if imagefolder.is_image_folder(path):
            return [(path, DatasetFormat.IMAGEFOLDER)]
        files = sorted(path.rglob("*.parquet"))
        if not files:
            raise ValueError(f"{path}: folder holds no fvqa manifest, parquet files or images")
        return [(f, _file_format(f)) for f in files]
    return [(path, _file_format(path))]


def detect_format(path: str | Path) -> DatasetFormat:
    formats = {fmt for _, fmt in source_files(path)}
    if len(formats) > 1:
        raise ValueError(f"{path}: mixes fvqa and official files; convert them separately")
    return formats.pop()


def _image_folder_records(folder: Path) -> Iterator[Record]:
    listed: set[Path] = set()
    metadata = imagefolder.metadata_rows(folder)
    if metadata is not None:
        name, rows = metadata
        for index, row in enumerate(rows):
            file = str(row.get("file_name") or "")
            location = f"{name}:{index}" + (f" ({file})" if file else "")
            if file:
                listed.add((folder / file).resolve())
            try:
                yield Record(location, imagefolder.metadata_fields(row, folder), file=file)
            except (OSError, ValueError) as err:
                yield Record(location, error=str(err), file=file or None)
    for path in imagefolder.image_files(folder):
        if path.resolve() in listed:
            continue
        rel = path.relative_to(folder).as_posix()
        if path.stat().st_size > imagefolder.MAX_FILE_BYTES:
            yield Record(rel, error=f"file is {path.stat().st_size} bytes, over the limit", file=rel)
            continue
        fields = {"id": rel, "image": path.read_bytes()}
        yield Record(rel, fields, file=rel, image_only=True)


def iter_records(path: str | Path) -> Iterator[Record]:
    """Every row behind `path` as a Record; unreadable files become one Record each."""
    for file, fmt in source_files(path):
        if fmt is DatasetFormat.IMAGEFOLDER:
            yield from _image_folder_records(file)
            continue
        index = -1
        try:
            for index, row in enumerate(dataset_io.iter_parquet_rows(file)):
                location = f"{file.name}:{index}"
                if fmt is DatasetFormat.FVQA:
                    yield Record(location, dataset_io.row_to_fields(row))
                    continue
                try:
                    fields = official.official_row_fields(row, index=index, default_source=file.stem)
                except official.OfficialRowError as err:
                    yield Record(location, error=str(err))
                else:
                    yield Record(location, fields)
        except (OSError, ValueError) as err:  # a damaged file: report it and go on
            yield Record(f"{file.name}:{index + 1}", error=f"stopped reading {file.name}: {err}")


def to_sample(record: Record, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Sample:
    """A validated sample from a record, filling in image hashes the source lacks.

    Raises ValueError (ImageDecodeError or pydantic's ValidationError among them).
    """
    if record.fields is None:
        raise ValueError(record.error or "row could not be read")
    if record.image_only:
        raise ValueError("a bare image file with no metadata row: no question or answer")
    fields = dict(record.fields)
    if "image_sha256" not in fields or "phash" not in fields:
        info = inspect_image(fields.get("image") or b"", max_pixels=max_pixels, source=record.sample_id)
        fields.setdefault("image_sha256", info.sha256)
        fields.setdefault("phash", info.phash)
    return Sample.model_validate(fields)


def describe_error(err: Exception) -> str:
    """A one-line reason for a rejected row."""
    if isinstance(err, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}" for e in err.errors())
    if isinstance(err, ImageDecodeError):
        return f"image {err.reason}"
    return str(err)


def iter_samples(
    path: str | Path,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    on_reject: Callable[[Rejected], None] | None = None,
) -> Iterator[Sample]:
    """Stream validated samples from any source; each unusable row goes to `on_reject`."""
    for record in iter_records(path):
        try:
            yield to_sample(record, max_pixels=max_pixels)
        except ValueError as err:
            if on_reject is not None:
                on_reject(Rejected(record.location, record.sample_id, describe_error(err)))


def count_rows(path: str | Path) -> int | None:
    """How many rows are behind `path`, from parquet metadata (None if it cannot tell)."""
    try:
        files = source_files(path)
        if any(fmt is DatasetFormat.IMAGEFOLDER for _, fmt in files):
            return None
        return sum(pq.ParquetFile(file).metadata.num_rows for file, _ in files)
    except (OSError, ValueError):
        return None
