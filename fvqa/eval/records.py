"""What an evaluation run writes: one `SampleLog` line per sample, one `RunResult` file.

`DIR/samples.jsonl` holds a SampleLog per line (append-only, flushed per sample);
`DIR/result.json` holds the RunResult: metrics, counts and full provenance. The
leaderboard reads these files, never the harness's internals, so their shape is a
contract: add fields, don't rename them, and bump RESULT_SCHEMA_VERSION when meaning
changes.

Statuses, and which ones are scored (count towards accuracy):

- ok: the agent finished with an answer and the judge gave a verdict (scored);
- parse_error: the model's turns never produced a usable answer under the protocol's
  rules (scored: the model failed, the verdict is INCORRECT);
- model_error: the model endpoint failed after retries (not scored);
- tool_error: a search failed in a way that is the harness's, not the model's, problem:
  a replay-cache miss, a backend that is not configured, an internal error (not scored);
  ordinary search failures (timeouts, rate limits) are shown to the model and counted in
  the search failure rate instead;
- judge_error: the LLM judge failed or its verdict could not be parsed (not scored).
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fvqa.agent.trajectory import ToolCall, Turn

RESULT_SCHEMA_VERSION = 1

RATE_METRICS = (
    "accuracy",
    "accuracy_ci95",
    "not_attempted",
    "search_ratio",
    "search_call_ratio",
    "image_only_share",
    "text_only_share",
    "mixed_share",
    "no_search_share",
    "search_failure_rate",
    "correct_without_search",
)
"""The keys of `result.json`'s `metrics` (overall, and per group in by_category / by_search_label)."""


class Status(enum.StrEnum):
    OK = "ok"
    PARSE_ERROR = "parse_error"
    MODEL_ERROR = "model_error"
    TOOL_ERROR = "tool_error"
    JUDGE_ERROR = "judge_error"

    @property
    def scored(self) -> bool:
        return self in (Status.OK, Status.PARSE_ERROR)


class Verdict(enum.StrEnum):
    CORRECT = "CORRECT"
    INCORRECT = "INCORRECT"
    NOT_ATTEMPTED = "NOT_ATTEMPTED"


class JudgeStage(enum.StrEnum):
    RULES = "rules"
    LLM = "llm"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SampleLog(_Record):
    id: str
    status: Status
    category: str | None = None
    subcategory: str | None = None
    search_label: str | None = None
    question: str
    answers: list[str]
    trajectory: list[Turn] = Field(default_factory=list)
    answer: str | None = None
    verdict: Verdict | None = None
    judge_stage: JudgeStage | None = None
    judge_explanation: str | None = None
    rules_verdict: Verdict | None = None
    """What the rules said, kept when the LLM judge then decided (to study disagreement)."""
    image_searches: int = 0
    text_searches: int = 0
    search_failures: int = 0
    error: str | None = None
    elapsed_s: float = 0.0
    attempt: int = 1
    """1 for the first try; resumed runs retry failed samples and count up."""

    @property
    def searched(self) -> bool:
        return self.image_searches + self.text_searches > 0


class RunResult(_Record):
    """`result.json`: metrics, counts and everything needed to reproduce the run."""

    schema_version: int = RESULT_SCHEMA_VERSION
    complete: bool
    """False while samples are still missing (a run that was stopped)."""
    metrics: dict[str, Any]
    counts: dict[str, int]
    benchmark: dict[str, Any]
    model: dict[str, Any]
    protocol: dict[str, Any]
    search: dict[str, Any]
    judge: dict[str, Any]
    provenance: dict[str, Any]
    """fvqa version, git revision, seed, command line, started/finished timestamps."""


__all__ = [
    "RATE_METRICS",
    "RESULT_SCHEMA_VERSION",
    "JudgeStage",
    "RunResult",
    "SampleLog",
    "Status",
    "ToolCall",
    "Turn",
    "Verdict",
]
