"""Page corpora for the local search engines: folders of JSON Lines that readers stream.

A corpus is a folder holding one or both of:

- ``pages.jsonl``: image pages, one JSON object a line with ``id``, ``url``, ``title``,
  ``text`` and ``image`` (a path relative to the folder), optionally ``thumbnail`` (also
  relative); the image search indexes the picture, a hit returns title, URL and thumbnail;
- ``passages.jsonl``: text pages with ``id``, ``url``, ``title`` and ``text``; the text search
  indexes title and text, a hit returns title, URL and a summary of the text.

The demo world (`fvqa.demo.world.build_world`) is such a folder; so is a user's own crawl.
Readers never stop at a bad line: they skip it, log it and record a `CorpusProblem` naming
the file and line, so one broken row in a million does not cost the other rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

PAGES_FILE = "pages.jsonl"
PASSAGES_FILE = "passages.jsonl"
MANIFEST_FILE = "manifest.json"

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class CorpusProblem:
    """One line a reader skipped, and why."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class CorpusReport:
    """What a reader saw: rows accepted and the problems of the lines it skipped."""

    rows: int = 0
    problems: list[CorpusProblem] = field(default_factory=list)
    log: bool = True
    """Log each problem as a warning (off for a second, silent pass over the same file)."""

    def add(self, problem: CorpusProblem) -> None:
        if self.log:
            _LOG.warning("skipping %s", problem)
        self.problems.append(problem)


@dataclass(frozen=True)
class ImagePage:
    """A web page that shows one picture; ``image`` and ``thumbnail`` are absolute paths."""

    id: str
    url: str
    title: str
    text: str
    image: Path
    thumbnail: Path | None
    line: int


@dataclass(frozen=True)
class Passage:
    """A text page: what the text search indexes and summarises."""

    id: str
    url: str
    title: str
    text: str
    line: int


def _lines(path: Path, report: CorpusReport) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line that is a JSON object."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as err:
                report.add(CorpusProblem(str(path), number, f"not UTF-8 ({err.reason} at byte {err.start})"))
                continue
            except json.JSONDecodeError as err:
                report.add(CorpusProblem(str(path), number, f"not JSON ({err.msg}, column {err.colno})"))
                continue
            if not isinstance(row, dict):
                report.add(CorpusProblem(str(path), number, f"expected a JSON object, found {type(row).__name__}"))
                continue
            yield number, row


def _text_fields(row: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...]) -> dict[str, str] | str:
    """The string fields of a row, or a message naming the first missing or mistyped field."""
    values: dict[str, str] = {}
    for name in required + optional:
        value = row.get(name)
        if value is None and name in optional:
            values[name] = ""
            continue
        if not isinstance(value, str):
            found = "missing" if value is None else f"a {type(value).__name__}, not a string"
            return f"field {name!r} is {found}"
        if name in required and not value.strip():
            return f"field {name!r} is empty"
        values[name] = value
    return values


def _inside(folder: Path, relative: str) -> Path | str:
    """Resolve a path stored in the corpus; it must stay inside the corpus folder."""
    posix = PurePosixPath(relative.replace("\\", "/"))
    if posix.is_absolute() or ".." in posix.parts:
        return f"path {relative!r} must be relative to the corpus folder and stay inside it"
    return folder.joinpath(*posix.parts)


def read_pages(folder: str | Path, report: CorpusReport | None = None) -> Iterator[ImagePage]:
    """Stream the image pages of a corpus; bad lines and repeated ids go to ``report``."""
    folder = Path(folder)
    path = folder / PAGES_FILE
    report = report if report is not None else CorpusReport()
    seen: set[str] = set()
    for number, row in _lines(path, report):
        values = _text_fields(row, ("id", "url", "image"), ("title", "text", "thumbnail"))
        if isinstance(values, str):
            report.add(CorpusProblem(str(path), number, values))
            continue
        if values["id"] in seen:
            report.add(CorpusProblem(str(path), number, f"id {values['id']!r} was already used"))
            continue
        image = _inside(folder, values["image"])
        thumb = _inside(folder, values["thumbnail"]) if values["thumbnail"] else None
        bad = next((p for p in (image, thumb) if isinstance(p, str)), None)
        if bad is not None:
            report.add(CorpusProblem(str(path), number, bad))
            continue
        assert isinstance(image, Path) and not isinstance(thumb, str)
        seen.add(values["id"])
        report.rows += 1
        yield ImagePage(values["id"], values["url"], values["title"], values["text"], image, thumb, number)


def read_passages(folder: str | Path, report: CorpusReport | None = None) -> Iterator[Passage]:
    """Stream the text passages of a corpus; bad lines and repeated ids go to ``report``."""
    path = Path(folder) / PASSAGES_FILE
    report = report if report is not None else CorpusReport()
    seen: set[str] = set()
    for number, row in _lines(path, report):
        values = _text_fields(row, ("id", "url", "text"), ("title",))
        if isinstance(values, str):
            report.add(CorpusProblem(str(path), number, values))
            continue
        if values["id"] in seen:
            report.add(CorpusProblem(str(path), number, f"id {values['id']!r} was already used"))
            continue
        seen.add(values["id"])
        report.rows += 1
        yield Passage(values["id"], values["url"], values["title"], values["text"], number)


def count_lines(path: str | Path) -> int:
    """Non-blank lines in a file: the total a progress bar can show before reading rows."""
    with Path(path).open("rb") as handle:
        return sum(1 for raw in handle if raw.strip())


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- index folders built from a corpus -------------------------------------------------


class IndexFormatError(ValueError):
    """A folder that is not a usable index: missing or corrupt manifest, files that disagree."""


def read_manifest(folder: str | Path, expected_format: str, version: int) -> dict[str, Any]:
    """The manifest of an index folder, checked for format and version; raises IndexFormatError."""
    path = Path(folder) / MANIFEST_FILE
    hint = "build it with `fvqa search index CORPUS`"
    if not path.is_file():
        raise IndexFormatError(f"{folder} is not a complete index ({MANIFEST_FILE} is missing); {hint}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise IndexFormatError(f"{path} is corrupt ({err}); rebuild the index: {hint}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != expected_format:
        raise IndexFormatError(f"{path} does not describe an {expected_format}; {hint}")
    if manifest.get("version") != version:
        raise IndexFormatError(f"{path} has format version {manifest.get('version')}, expected {version}; {hint}")
    return manifest
