"""The image-folder layout: image files plus an optional `metadata.jsonl` or `metadata.csv`.

This is the Hugging Face "imagefolder" convention that dataset builders start from: each
metadata row names its image in `file_name` and carries the question, answer and labels.
A folder with no metadata is read as images only, so `fvqa validate` can check a folder
of raw images file by file.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

METADATA_NAMES = ("metadata.jsonl", "metadata.csv")
IGNORED_NAMES = frozenset({*METADATA_NAMES, "README.md", ".gitattributes", "rejects.jsonl"})
MAX_FILE_BYTES = 64 * 2**20
KNOWN_FIELDS = (
    "question",
    "answer",
    "split",
    "category",
    "subcategory",
    "search_label",
    "image_url",
    "source",
)
EXTENSION_FORMATS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".webp": "WEBP",
    ".gif": "GIF",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}


def is_image_folder(folder: Path) -> bool:
    """A folder with metadata, or with files and no parquet (what else could it be)."""
    if any((folder / name).exists() for name in METADATA_NAMES):
        return True
    return not any(folder.rglob("*.parquet")) and any(image_files(folder))


def image_files(folder: Path) -> Iterator[Path]:
    """Every candidate image file under `folder`, in a stable order, skipping hidden files."""
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and path.name not in IGNORED_NAMES and not any(p.startswith(".") for p in rel.parts):
            yield path


def metadata_rows(folder: Path) -> tuple[str, Iterator[dict[str, Any]]] | None:
    jsonl, table = folder / METADATA_NAMES[0], folder / METADATA_NAMES[1]
    if jsonl.exists():

        def read_jsonl() -> Iterator[dict[str, Any]]:
            with jsonl.open(encoding="utf-8") as handle:
                for line_no, line in enumerate(handle, 1):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as err:
                        row = {"__error__": f"line {line_no} is not valid JSON ({err.msg})"}
                    yield row if isinstance(row, dict) else {"__error__": f"line {line_no} is not an object"}

        return jsonl.name, read_jsonl()
    if table.exists():

        def read_csv() -> Iterator[dict[str, Any]]:
            with table.open(encoding="utf-8", newline="") as handle:
                yield from csv.DictReader(handle)

        return table.name, read_csv()
    return None


def read_file(folder: Path, name: str) -> tuple[Path, bytes]:
    """The bytes of a file named by metadata; refuses names that leave the folder."""
    path = (folder / name).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise ValueError(f"file_name {name!r} points outside the dataset folder")
    if not path.is_file():
        raise ValueError(f"file_name {name!r} does not exist")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ValueError(f"{name} is {path.stat().st_size} bytes, over the {MAX_FILE_BYTES}-byte limit")
    return path, path.read_bytes()


def _aliases(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        parsed = json.loads(value) if value.lstrip().startswith("[") else value.split("|")
        return [str(a) for a in parsed]
    return [str(a) for a in value]


def metadata_fields(row: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Sample fields (less image hashes) from one metadata row; the id comes from the row
    or its file name, never from the row's position."""
    if "__error__" in row:
        raise ValueError(row["__error__"])
    name = row.get("file_name")
    if not name:
        raise ValueError("metadata row has no file_name")
    _, data = read_file(folder, str(name))
    source = row.get("source") or folder.name
    source_id = str(row.get("source_id") or row.get("id") or Path(str(name)).with_suffix("").as_posix())
    fields: dict[str, Any] = {k: row.get(k) or None for k in KNOWN_FIELDS}
    fields.update(
        id=f"{source}:{source_id}",
        source=source,
        source_id=source_id,
        split=row.get("split") or "train",
        aliases=_aliases(row.get("aliases")),
        image=data,
        search_label=row.get("search_label") or "unknown",
        meta={
            "imagefolder": {
                "file_name": name,
                **{k: v for k, v in row.items() if k not in (*KNOWN_FIELDS, "file_name", "aliases", "id", "source_id")},
            }
        },
    )
    return fields
