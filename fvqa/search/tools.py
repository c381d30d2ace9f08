"""The two search tools the agent calls: a backend behind the shared cache, failures as results."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fvqa.cache import Cache, CacheMiss, CacheMode, cache_key
from fvqa.search.types import (
    DEFAULT_TOP_K,
    ImageSearchBackend,
    SearchError,
    SearchErrorKind,
    SearchFailure,
    SearchResult,
    TextSearchBackend,
    ToolName,
    WebPage,
    pages_from_bytes,
    pages_to_bytes,
)

_LOG = logging.getLogger(__name__)


def _no_cache() -> Cache:
    return Cache(None, CacheMode.OFF)


def _run(
    tool: ToolName, backend_name: str, query: str, key: str, cache: Cache, call: Callable[[], list[WebPage]]
) -> SearchResult:
    start = time.perf_counter()

    def failed(kind: SearchErrorKind, message: str) -> SearchResult:
        elapsed = time.perf_counter() - start
        return SearchResult(tool, query, backend_name, error=SearchError(kind, message), elapsed_s=elapsed)

    try:
        pages, hit = cache.get_or_compute(key, f"{tool}/{backend_name}", call, pages_to_bytes, pages_from_bytes)
    except CacheMiss as err:
        return failed(SearchErrorKind.CACHE_MISS, str(err))
    except SearchFailure as err:
        return failed(err.kind, err.message)
    except Exception as err:  # a backend bug must not crash the agent: report it as a result
        _LOG.exception("%s backend %s failed unexpectedly", tool, backend_name)
        return failed(SearchErrorKind.INTERNAL, f"{type(err).__name__}: {err}")
    elapsed = time.perf_counter() - start
    return SearchResult(tool, query, backend_name, pages=tuple(pages), cached=hit, elapsed_s=elapsed)


@dataclass
class ImageSearchTool:
    backend: ImageSearchBackend
    cache: Cache = field(default_factory=_no_cache)
    top_k: int = DEFAULT_TOP_K

    def __call__(self, image: bytes, k: int | None = None) -> SearchResult:
        k = k or self.top_k
        digest = hashlib.sha256(image).hexdigest()
        key = cache_key(f"image_search/{self.backend.name}", {**self.backend.params(), "k": k}, digest)
        return _run(
            "image_search", self.backend.name, digest, key, self.cache, lambda: self.backend.search_image(image, k)
        )


@dataclass
class TextSearchTool:
    backend: TextSearchBackend
    cache: Cache = field(default_factory=_no_cache)
    top_k: int = DEFAULT_TOP_K

    def __call__(self, query: str, k: int | None = None) -> SearchResult:
        k = k or self.top_k
        if not query.strip():
            return SearchResult(
                "text_search",
                query,
                self.backend.name,
                error=SearchError(SearchErrorKind.BAD_INPUT, "the query is empty"),
            )
        digest = hashlib.sha256(query.strip().encode()).hexdigest()
        key = cache_key(f"text_search/{self.backend.name}", {**self.backend.params(), "k": k}, digest)
        return _run(
            "text_search", self.backend.name, query, key, self.cache, lambda: self.backend.search_text(query, k)
        )


__all__ = ["ImageSearchTool", "TextSearchTool", "WebPage"]
