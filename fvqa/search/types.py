"""What the two search tools return, for every backend (DESIGN.md "The search agent protocol").

A backend raises `SearchFailure` with a kind; the tool wrappers (`fvqa.search.tools`) turn
every failure into a `SearchResult` whose `error` is set, so the agent can tell the model
and the metrics can count it. Nothing a backend raises escapes into the agent loop.
"""

from __future__ import annotations

import base64
import enum
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

ToolName = Literal["image_search", "text_search"]
DEFAULT_TOP_K = 5


class SearchErrorKind(enum.StrEnum):
    BAD_INPUT = "bad_input"  # an undecodable image, an empty query
    NOT_CONFIGURED = "not_configured"  # no API key, no index
    RATE_LIMITED = "rate_limited"
    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"  # connection refused, 5xx
    BAD_RESPONSE = "bad_response"  # the provider answered something we cannot read
    CACHE_MISS = "cache_miss"  # replay mode and the call was never recorded
    INTERNAL = "internal"  # a bug in fvqa or a backend: still reported, never raised


class SearchFailure(Exception):
    """Raised by a backend; carries a kind and a message that never holds a secret."""

    def __init__(self, kind: SearchErrorKind, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class WebPage:
    """One hit: a page's title and URL, a summary (text search) or a thumbnail (image search)."""

    title: str
    url: str
    summary: str = ""
    thumbnail: bytes | None = field(default=None, repr=False)
    """JPEG bytes of the page's image, for image-search hits."""
    score: float = 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["thumbnail"] = None if self.thumbnail is None else base64.b64encode(self.thumbnail).decode()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WebPage:
        thumb = data.get("thumbnail")
        return cls(
            title=data["title"],
            url=data["url"],
            summary=data.get("summary", ""),
            thumbnail=None if thumb is None else base64.b64decode(thumb),
            score=float(data.get("score", 0.0)),
        )


@dataclass(frozen=True)
class SearchError:
    kind: SearchErrorKind
    message: str


@dataclass(frozen=True)
class SearchResult:
    """The outcome of one tool call: hits, or an error; never both."""

    tool: ToolName
    query: str
    """The text query, or the image's sha256 for an image search."""
    backend: str
    pages: tuple[WebPage, ...] = ()
    error: SearchError | None = None
    cached: bool = False
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "query": self.query,
            "backend": self.backend,
            "pages": [p.to_json() for p in self.pages],
            "error": None if self.error is None else {"kind": str(self.error.kind), "message": self.error.message},
            "cached": self.cached,
            "elapsed_s": self.elapsed_s,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SearchResult:
        error = data.get("error")
        return cls(
            tool=data["tool"],
            query=data["query"],
            backend=data["backend"],
            pages=tuple(WebPage.from_json(p) for p in data.get("pages", [])),
            error=None if error is None else SearchError(SearchErrorKind(error["kind"]), error["message"]),
            cached=bool(data.get("cached", False)),
            elapsed_s=float(data.get("elapsed_s", 0.0)),
        )


def pages_to_bytes(pages: list[WebPage] | tuple[WebPage, ...]) -> bytes:
    return json.dumps([p.to_json() for p in pages]).encode()


def pages_from_bytes(data: bytes) -> list[WebPage]:
    return [WebPage.from_json(p) for p in json.loads(data)]


class ImageSearchBackend(Protocol):
    """Finds web pages whose image looks like the query image."""

    name: str

    def params(self) -> dict[str, Any]:
        """What, besides the input, determines the results (index hash, provider, ...): the cache key."""
        ...

    def search_image(self, image: bytes, k: int) -> list[WebPage]: ...


class TextSearchBackend(Protocol):
    """Finds web pages for a text query, each with a short summary."""

    name: str

    def params(self) -> dict[str, Any]: ...

    def search_text(self, query: str, k: int) -> list[WebPage]: ...
