"""Offline search backends over a page corpus: `LocalImageSearch`, `LocalTextSearch`, `build_indexes`.

`build_indexes(corpus, out)` writes ``out/image`` (from ``pages.jsonl``) and ``out/text`` (from
``passages.jsonl``); the default ``out`` is ``CORPUS/index``. Each index is built in a hidden
staging folder beside its final place, its manifest written last, and only then moved into
place, so an interrupted build never leaves something that looks like a complete index. An
index whose manifest records the current corpus and encoder is left alone.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fvqa.images import DEFAULT_MAX_PIXELS, ImageDecodeError, decode_image
from fvqa.search.corpus import (
    MANIFEST_FILE,
    PAGES_FILE,
    PASSAGES_FILE,
    CorpusReport,
    IndexFormatError,
    count_lines,
    file_sha256,
    read_manifest,
    read_pages,
    read_passages,
)
from fvqa.search.image_features import EncoderUnavailable, ImageEncoder, encoder_id, load_encoder
from fvqa.search.image_index import FORMAT as IMAGE_FORMAT
from fvqa.search.image_index import FORMAT_VERSION as IMAGE_VERSION
from fvqa.search.image_index import ImageIndex, build_image_index
from fvqa.search.text_index import ANALYZER, TextIndex, build_text_index
from fvqa.search.text_index import FORMAT as TEXT_FORMAT
from fvqa.search.text_index import FORMAT_VERSION as TEXT_VERSION
from fvqa.search.types import SearchErrorKind, SearchFailure, WebPage

IMAGE_DIR = "image"
TEXT_DIR = "text"
DEFAULT_INDEX_DIR = "index"

Progress = Callable[[str, int, int], None]
"""Called as progress(phase, done, total) with phase "image" or "text"."""


def index_folder(index_dir: str | Path, kind: str) -> Path:
    """``index_dir/kind``, or ``index_dir`` itself when it already is an index folder."""
    folder = Path(index_dir)
    return folder if (folder / MANIFEST_FILE).is_file() else folder / kind


class LocalImageSearch:
    """Image search over a local index; queries use the encoder the index was built with."""

    name = "local"

    def __init__(
        self, index_dir: str | Path, encoder: ImageEncoder | None = None, *, max_pixels: int = DEFAULT_MAX_PIXELS
    ) -> None:
        self.index = ImageIndex(index_folder(index_dir, IMAGE_DIR))
        if encoder is None:
            try:
                encoder = load_encoder(self.index.encoder_name)
            except EncoderUnavailable as err:
                raise EncoderUnavailable(
                    f"the image index {self.index.folder} needs encoder {self.index.encoder_name}, "
                    f"which cannot run here: {err}"
                ) from err
        self.index.check_encoder(encoder)
        self.encoder = encoder
        self.max_pixels = max_pixels

    def params(self) -> dict[str, Any]:
        return {"index": self.index.content_hash, "encoder": self.index.encoder_id}

    def search_image(self, image: bytes, k: int) -> list[WebPage]:
        if k < 1:
            raise SearchFailure(SearchErrorKind.BAD_INPUT, f"k must be at least 1, got {k}")
        try:
            decoded = decode_image(image, max_pixels=self.max_pixels, source="query image")
        except ImageDecodeError as err:
            raise SearchFailure(SearchErrorKind.BAD_INPUT, str(err)) from None
        hits = self.index.search(self.encoder.query_vector(decoded.image), k)
        return [WebPage(hit.page.title, hit.page.url, thumbnail=hit.thumbnail, score=hit.score) for hit in hits]


class LocalTextSearch:
    """BM25 text search over a local tantivy index; summaries are the passages' first sentences."""

    name = "local"

    def __init__(self, index_dir: str | Path) -> None:
        self.index = TextIndex(index_folder(index_dir, TEXT_DIR))

    def params(self) -> dict[str, Any]:
        return {"index": self.index.content_hash, "analyzer": ANALYZER}

    def search_text(self, query: str, k: int) -> list[WebPage]:
        if not query.strip():
            raise SearchFailure(SearchErrorKind.BAD_INPUT, "the query is empty")
        if k < 1:
            raise SearchFailure(SearchErrorKind.BAD_INPUT, f"k must be at least 1, got {k}")
        return [
            WebPage(hit.title, hit.url, summary=hit.summary, score=hit.score) for hit in self.index.search(query, k)
        ]


# --- building -----------------------------------------------------------------------------


def _image_files_signature(corpus_dir: Path) -> str:
    """A digest of the size and modification time of every picture the pages name."""
    digest = hashlib.sha256()
    seen: set[Path] = set()
    for page in read_pages(corpus_dir, CorpusReport(log=False)):
        for path in (page.image, page.thumbnail):
            if path is None or path in seen:
                continue
            seen.add(path)
            try:
                stat = path.stat()
                digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
            except OSError:
                digest.update(f"{path}\0missing\n".encode())
    return digest.hexdigest()


def _existing(folder: Path, fmt: str, version: int) -> dict[str, Any] | None:
    try:
        return read_manifest(folder, fmt, version)
    except IndexFormatError:
        return None


def _publish(staging: Path, final: Path) -> None:
    """Move a finished index into place, replacing an older one."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
        final.rename(old)
    staging.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _build(final: Path, write: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = final.with_name(f".{final.name}.building-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        manifest = write(staging)
        _publish(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _summary(
    status: str, folder: Path, manifest: dict[str, Any] | None, report: CorpusReport | None, start: float
) -> dict[str, Any]:
    return {
        "status": status,
        "path": str(folder),
        "counts": (manifest or {}).get("counts", {}),
        "problems": [str(p) for p in report.problems] if report else [],
        "seconds": round(time.perf_counter() - start, 3),
    }


def _tick(progress: Progress | None, phase: str, total: int) -> Callable[[int], None] | None:
    return None if progress is None else (lambda done: progress(phase, done, total))


def build_image(
    corpus_dir: Path, folder: Path, encoder: ImageEncoder, progress: Progress | None, force: bool
) -> dict[str, Any]:
    start = time.perf_counter()
    source = corpus_dir / PAGES_FILE
    corpus = {
        "file": str(source),
        "sha256": file_sha256(source),
        "files": _image_files_signature(corpus_dir),
        "encoder": encoder_id(encoder),
    }
    existing = _existing(folder, IMAGE_FORMAT, IMAGE_VERSION)
    if not force and existing is not None and existing.get("corpus") == corpus:
        return _summary("up-to-date", folder, existing, None, start)
    report = CorpusReport()
    tick = _tick(progress, "image", count_lines(source))
    manifest = _build(
        folder,
        lambda out: build_image_index(
            read_pages(corpus_dir, report), out, encoder, report=report, corpus=corpus, progress=tick
        ),
    )
    return _summary("built", folder, manifest, report, start)


def build_text(corpus_dir: Path, folder: Path, progress: Progress | None, force: bool) -> dict[str, Any]:
    start = time.perf_counter()
    source = corpus_dir / PASSAGES_FILE
    corpus = {"file": str(source), "sha256": file_sha256(source), "analyzer": ANALYZER}
    existing = _existing(folder, TEXT_FORMAT, TEXT_VERSION)
    if not force and existing is not None and existing.get("corpus") == corpus:
        return _summary("up-to-date", folder, existing, None, start)
    report = CorpusReport()
    tick = _tick(progress, "text", count_lines(source))
    manifest = _build(
        folder,
        lambda out: build_text_index(
            read_passages(corpus_dir, report), out, report=report, corpus=corpus, progress=tick
        ),
    )
    return _summary("built", folder, manifest, report, start)


def build_indexes(
    corpus_dir: str | Path,
    out_dir: str | Path | None = None,
    progress: Progress | None = None,
    *,
    encoder: ImageEncoder | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Build the image and text indexes of a corpus into ``out_dir`` (default ``CORPUS/index``).

    Returns ``{"image": summary | None, "text": summary | None}`` where None means the corpus
    has no such file, and a summary holds status ("built" or "up-to-date"), path, counts,
    problems (skipped lines as "file:line: why") and seconds. ``encoder`` defaults to
    `load_encoder()` (``FVQA_IMAGE_ENCODER``); ``force`` rebuilds up-to-date indexes.
    """
    corpus = Path(corpus_dir)
    out = Path(out_dir) if out_dir is not None else corpus / DEFAULT_INDEX_DIR
    has_pages, has_passages = (corpus / PAGES_FILE).is_file(), (corpus / PASSAGES_FILE).is_file()
    if not (has_pages or has_passages):
        raise FileNotFoundError(f"{corpus} holds neither {PAGES_FILE} nor {PASSAGES_FILE}: not a page corpus")
    result: dict[str, Any] = {"image": None, "text": None}
    if has_pages:
        chosen = encoder if encoder is not None else load_encoder()
        result["image"] = build_image(corpus, out / IMAGE_DIR, chosen, progress, force)
    if has_passages:
        result["text"] = build_text(corpus, out / TEXT_DIR, progress, force)
    return result
