"""The two-stage judge of an evaluation run: rules first, then (optionally) an LLM judge.

- rules only (``kind == "rules"``): the rules decide every sample; no match is INCORRECT.
  No model is needed.
- rules + LLM (``kind == "llm"``): a rules verdict (CORRECT on a match, NOT_ATTEMPTED for no
  answer or a plain refusal) is final; only when the rules cannot say does the LLM judge
  grade the sample. A failed or unreadable LLM grading is a judge failure (``error`` set,
  no verdict), which the harness records as status judge_error.

`JudgeOutcome` maps onto the `SampleLog` fields verdict, judge_stage, judge_explanation and
rules_verdict; `Judge.describe` is the judge section of result.json.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fvqa.eval.judge_llm import LLMJudge
from fvqa.eval.judge_rules import RULES_VERSION, rules_decision
from fvqa.eval.records import JudgeStage, Verdict
from fvqa.models import ChatClient


@dataclass(frozen=True)
class JudgeOutcome:
    """The judgement of one sample.

    ``verdict`` is None exactly when ``error`` says why (a judge failure); ``stage`` is the
    stage that decided (None on a failure); ``rules_verdict`` is what the rules said (None:
    no match), kept even when the LLM then decided; ``cached`` tells an LLM grading served
    from the response cache.
    """

    verdict: Verdict | None
    stage: JudgeStage | None
    explanation: str | None
    rules_verdict: Verdict | None
    error: str | None = None
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.verdict is not None


def endpoint_host(base_url: str) -> str:
    """The host (and port) of an endpoint URL: no scheme, path, query or user:password part."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port else host


class Judge:
    """Rules alone (``llm=None``) or rules followed by an `LLMJudge`."""

    def __init__(self, llm: LLMJudge | None = None) -> None:
        self.llm = llm

    @classmethod
    def rules_only(cls) -> Judge:
        return cls(None)

    @classmethod
    def with_llm(
        cls,
        client: ChatClient,
        template_text: str | None = None,
        *,
        template_path: str | Path | None = None,
        max_tokens: int = 1024,
    ) -> Judge:
        """Rules, then an LLM judge on ``client`` with the default template, a template text or a file."""
        return cls(LLMJudge(client, template_text, template_path=template_path, max_tokens=max_tokens))

    @property
    def kind(self) -> str:
        """``"rules"`` or ``"llm"`` (rules first, then the LLM)."""
        return "rules" if self.llm is None else "llm"

    async def judge(self, question: str, answers: Sequence[str], prediction: str | None) -> JudgeOutcome:
        """Judge one prediction; never raises for a failed LLM call (the outcome carries the error)."""
        decision = rules_decision(prediction, list(answers))
        if decision.verdict is not None:
            return JudgeOutcome(decision.verdict, JudgeStage.RULES, decision.reason, decision.verdict)
        if self.llm is None:
            return JudgeOutcome(Verdict.INCORRECT, JudgeStage.RULES, decision.reason, None)
        call = await self.llm.grade(question, answers, prediction)
        if call.verdict is None:
            return JudgeOutcome(None, None, call.explanation, None, error=call.error, cached=call.cached)
        return JudgeOutcome(call.verdict, JudgeStage.LLM, call.explanation, None, cached=call.cached)

    def describe(self) -> dict[str, Any]:
        """The judge section of result.json: kind, rules version and, with an LLM, its model, host and template.

        Never holds an API key: the endpoint is reduced to its host and port.
        """
        info: dict[str, Any] = {"kind": self.kind, "rules_version": RULES_VERSION}
        if self.llm is not None:
            info.update(self.llm.describe())
            info["base_url_host"] = endpoint_host(self.llm.client.base_url)
        return info
