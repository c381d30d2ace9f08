"""The sample record: one typed, validated row that flows through every fvqa stage.

DESIGN.md "The sample" fixes the fields. A sample is built with `new_sample`, which
derives the stable id and the image hashes; records read back from disk are validated by
pydantic on the way in.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fvqa.images import DEFAULT_MAX_PIXELS, inspect_image
from fvqa.taxonomy import Category, check_subcategory

SCHEMA_VERSION = 1
"""Bumped whenever a field is added, removed or changes meaning."""


class SearchLabel(enum.StrEnum):
    """What a sample needs to be answered, as labelled by curation or review."""

    SEARCH_FREE = "search_free"
    IMAGE_SEARCH_REQUIRED = "image_search_required"
    TEXT_SEARCH_REQUIRED = "text_search_required"
    MIXED_SEARCH_REQUIRED = "mixed_search_required"
    UNKNOWN = "unknown"

    @property
    def requires_search(self) -> bool | None:
        """True when some search is needed, False when none is, None when unknown."""
        if self is SearchLabel.UNKNOWN:
            return None
        return self is not SearchLabel.SEARCH_FREE


class ReviewStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    EDITED = "edited"
    REJECTED = "rejected"


class Review(BaseModel):
    """Where a sample stands in human review."""

    model_config = ConfigDict(extra="forbid")

    status: ReviewStatus = ReviewStatus.PENDING
    annotators: list[str] = Field(default_factory=list)
    agreement: float | None = Field(default=None, ge=0.0, le=1.0)


class HistoryEntry(BaseModel):
    """One pipeline step's decision about a sample (kept, dropped, relabelled, ...)."""

    model_config = ConfigDict(extra="forbid")

    step: str
    decision: str
    reason: str | None = None
    at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


def make_sample_id(source: str, source_id: str) -> str:
    """The stable id of a sample: its source and its id within that source.

    Never derived from row order, so re-reading, re-sharding or re-ordering a dataset
    keeps every id.
    """
    if not source.strip() or not source_id.strip():
        raise ValueError(f"source and source_id must be non-empty (got {source!r}, {source_id!r})")
    return f"{source}:{source_id}"


class Sample(BaseModel):
    """One factual visual question with its image, answer, labels and provenance."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    id: str
    source: str
    source_id: str
    split: str
    question: str
    answer: str
    aliases: list[str] = Field(default_factory=list)
    image: bytes = Field(repr=False)
    image_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    image_url: str | None = None
    category: Category | None = None
    subcategory: str | None = None
    search_label: SearchLabel = SearchLabel.UNKNOWN
    phash: str | None = Field(default=None, pattern=r"^[0-9a-f]{16}$")
    review: Review = Field(default_factory=Review)
    history: list[HistoryEntry] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict)
    """Source-specific fields kept for lossless conversion (e.g. the official format's)."""

    @field_validator("id", "source", "source_id", "split", "question", "answer")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("image")
    @classmethod
    def _has_bytes(cls, value: bytes) -> bytes:
        if not value:
            raise ValueError("image bytes are empty")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Sample:
        expected = make_sample_id(self.source, self.source_id)
        if self.id != expected:
            raise ValueError(f"id {self.id!r} does not match source and source_id ({expected!r})")
        if self.subcategory is not None:
            check_subcategory(self.category, self.subcategory)
        return self

    @property
    def answers(self) -> list[str]:
        """The ground truth followed by every alias, without duplicates, in order."""
        return list(dict.fromkeys([self.answer, *self.aliases]))

    def with_history(self, step: str, decision: str, reason: str | None = None) -> Sample:
        """A copy of this sample with one more history entry."""
        entry = HistoryEntry(step=step, decision=decision, reason=reason)
        return self.model_copy(update={"history": [*self.history, entry]})


def new_sample(
    *,
    source: str,
    source_id: str,
    split: str,
    question: str,
    answer: str,
    image: bytes,
    aliases: list[str] | None = None,
    image_url: str | None = None,
    category: Category | str | None = None,
    subcategory: str | None = None,
    search_label: SearchLabel | str = SearchLabel.UNKNOWN,
    meta: dict[str, Any] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Sample:
    """Build a validated sample: derives the id, decodes the image once and hashes it.

    Raises `fvqa.images.ImageDecodeError` (naming the sample id) for an unusable image and
    pydantic's ValidationError for bad fields.
    """
    sample_id = make_sample_id(source, source_id)
    info = inspect_image(image, max_pixels=max_pixels, source=sample_id)
    return Sample(
        id=sample_id,
        source=source,
        source_id=source_id,
        split=split,
        question=question,
        answer=answer,
        aliases=list(aliases or []),
        image=image,
        image_sha256=info.sha256,
        image_url=image_url,
        category=category,  # type: ignore[arg-type]  # pydantic validates and coerces
        subcategory=subcategory,
        search_label=search_label,  # type: ignore[arg-type]
        phash=info.phash,
        meta=dict(meta or {}),
    )
