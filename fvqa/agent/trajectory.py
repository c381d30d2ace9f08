"""What one agent run did: its turns, the searches they led to, and how it ended.

These records are written into evaluation logs as they are (thumbnails by sha256, never
inline), and curation and training read the same shapes.
"""

from __future__ import annotations

import enum
import hashlib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fvqa.search.types import SearchResult


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ToolCall(_Record):
    """One search the agent made, with what came back."""

    tool: str
    query: str
    """The text query, or the image's sha256 for an image search."""
    ok: bool
    error_kind: str | None = None
    error: str | None = None
    pages: list[dict[str, Any]] = Field(default_factory=list)
    """title, url, summary, score and thumbnail_sha256 of each hit."""
    cached: bool = False
    elapsed_s: float = 0.0

    @classmethod
    def from_result(cls, result: SearchResult) -> ToolCall:
        pages = [
            {
                "title": p.title,
                "url": p.url,
                "summary": p.summary,
                "score": round(p.score, 6),
                "thumbnail_sha256": None if p.thumbnail is None else hashlib.sha256(p.thumbnail).hexdigest(),
            }
            for p in result.pages
        ]
        return cls(
            tool=result.tool,
            query=result.query,
            ok=result.ok,
            error_kind=None if result.error is None else str(result.error.kind),
            error=None if result.error is None else result.error.message,
            pages=pages,
            cached=result.cached,
            elapsed_s=round(result.elapsed_s, 6),
        )


class Turn(_Record):
    """One round: the model's reply (or a fixed step of rag mode) and the search it led to."""

    round: int
    text: str | None
    """The reply as kept: anything after its first complete action is cut, as a stop sequence would."""
    action: str
    """answer, image_search, text_search or none."""
    problems: list[str] = Field(default_factory=list)
    handling: str | None = None
    """What the agent did about a problem, in words."""
    tool_call: ToolCall | None = None
    model_attempts: int = 0
    model_cached: bool = False
    latency_s: float = 0.0


class Outcome(enum.StrEnum):
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"  # a search asked for in the last round: the trajectory ends unanswered
    PARSE_ERROR = "parse_error"  # the last round's reply had no usable answer
    MODEL_ERROR = "model_error"
    TOOL_ERROR = "tool_error"


class Trajectory(_Record):
    turns: list[Turn] = Field(default_factory=list)
    outcome: Outcome = Outcome.NO_ANSWER
    answer: str | None = None
    error: str | None = None
    image_searches: int = 0
    text_searches: int = 0
    search_failures: int = 0
