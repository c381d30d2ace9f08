"""Finding a benchmark's image: a file named by an id inside an image folder, or bytes inside a table cell.

Images are only read here; decoding and validation happen once, in `fvqa.schema.new_sample`
through `fvqa.images`.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

from fvqa.images import read_image_bytes

SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff")


class ImageFolder:
    """Image files under one folder, found by file name or by name without suffix, in any subfolder.

    Cheap guesses come first (the folder itself, a shard folder such as OVEN's `05/` for
    `oven_05050169`); only when they miss is the folder walked once and indexed.
    """

    def __init__(self, root: Path, mapping: dict[str, Path] | None = None) -> None:
        self.root = root
        self.mapping = mapping or {}
        self._index: dict[str, Path] | None = None

    def find(self, name: str, shard: str | None = None) -> Path | None:
        """The file called `name` (with or without an image suffix), or None."""
        if not name or Path(name).name != name or name.startswith("."):
            return None  # never follow a name out of the folder
        if name in self.mapping:
            return self.mapping[name]
        for folder in (self.root, self.root / shard) if shard else (self.root,):
            for candidate in (name, *(name + s for s in SUFFIXES)):
                if (folder / candidate).is_file():
                    return folder / candidate
        return self._indexed().get(name) or self._indexed().get(name.lower())

    def read(self, name: str, shard: str | None = None) -> bytes:
        """The bytes of the image called `name`; ValueError when there is none."""
        path = self.find(name, shard)
        if path is None:
            raise ValueError(f"image {name!r} not found under {self.root}")
        return read_image_bytes(path)

    def _indexed(self) -> dict[str, Path]:
        if self._index is None:
            self._index = {}
            for path in sorted(self.root.rglob("*")):
                if path.is_file() and path.suffix.lower() in SUFFIXES:
                    for key in (path.name, path.stem, path.name.lower(), path.stem.lower()):
                        self._index.setdefault(key, path)
        return self._index


def cell_image_bytes(value: Any) -> bytes | None:
    """Image bytes from a table cell: raw bytes, a `{bytes, path}` struct (Hugging Face `Image`) or base64 text.

    None when the cell holds no image at all; ValueError when it holds something unusable.
    """
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("bytes")
        if value is None:
            return None
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("data:") and "," in text:
            text = text.split(",", 1)[1]
        try:
            return base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("the image text is not base64") from None
    raise ValueError(f"the image cell holds a {type(value).__name__}, not image bytes")
