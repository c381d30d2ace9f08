"""What the leaderboard requires of a result.json beyond the `RunResult` schema.

`RunResult` keeps its sections as open dictionaries; ranking runs fairly needs some of their
fields present and typed: model id and revision, benchmark name and data hash, protocol mode,
protocol and limits, judge kind (and, for an LLM judge, its model and template hash), accuracy
with its 95% CI, the search ratios, the failure counts, and `complete` true. Other fields are
kept as submitted. Validation errors carry pydantic locations such as `judge.kind`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Count = Annotated[int, Field(ge=0)]


class _Open(BaseModel):
    """A section of result.json: the fields named here are required, others are kept as they are."""

    model_config = ConfigDict(extra="allow")


class BenchmarkInfo(_Open):
    name: Text
    data_hash: Text


class ModelInfo(_Open):
    id: Text
    revision: Text


class Limits(_Open):
    max_rounds: Count
    image_search: Count
    text_search: Count


class ProtocolInfo(_Open):
    mode: Literal["direct", "rag", "agent"]
    protocol: Literal["tags", "tools"]
    limits: Limits


class JudgeInfo(_Open):
    kind: Literal["rules", "llm"]
    model: str | None = None
    template_hash: str | None = None
    rules_version: str | None = None


class Metrics(_Open):
    accuracy: Fraction
    accuracy_ci95: tuple[Fraction, Fraction]
    not_attempted: Fraction | None
    search_ratio: Fraction | None
    search_call_ratio: Fraction | None
    correct_without_search: Fraction | None
    by_category: dict[str, dict[str, Any]] = Field(default_factory=dict)
    by_search_label: dict[str, dict[str, Any]] = Field(default_factory=dict)


class Counts(_Open):
    samples: Count
    scored: Count
    correct: Count
    model_errors: Count
    tool_errors: Count
    judge_errors: Count
    parse_errors: Count = 0


class Provenance(_Open):
    started: str | None = None
    finished: str | None = None


class Requirements(BaseModel):
    """The leaderboard's typed view of a `RunResult`: what ranking and display rely on."""

    model_config = ConfigDict(extra="ignore")

    complete: Literal[True]
    benchmark: BenchmarkInfo
    model: ModelInfo
    protocol: ProtocolInfo
    judge: JudgeInfo
    metrics: Metrics
    counts: Counts
    provenance: Provenance
