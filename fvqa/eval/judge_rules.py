"""Stage one of judging: rules that need no model.

The rules can say yes (CORRECT) and can recognise a missing answer (NOT_ATTEMPTED); they
never say no on their own, because a differently worded right answer ("Paris, France" for
"Paris") is common. Where they cannot decide they return None and the LLM judge takes
over; with ``--judge rules`` there is no LLM and `rules_only_verdict` counts None as wrong.

Matching uses the shared normalisation in `fvqa.answers` (the one the training reward uses):
an exact match with the ground truth or an alias after normalisation, or two plain numbers
that are equal ("5,500" and "5500").
"""

from __future__ import annotations

from dataclasses import dataclass

from fvqa.answers import exact_match, normalize_answer, numeric_match
from fvqa.eval.records import Verdict

RULES_VERSION = "1"
"""Bumped whenever a rule changes what it decides; written into result.json."""

REFUSALS: frozenset[str] = frozenset(
    {
        "i dont know",
        "i do not know",
        "dont know",
        "unknown",
        "not sure",
        "im not sure",
        "i am not sure",
        "cannot determine",
        "i cannot determine",
        "cannot be determined",
        "unable to determine",
        "no answer",
    }
)
"""Whole answers (after `normalize_answer`) that are a plain refusal: "I don't know.", "Unknown".

Only an answer that is nothing but one of these counts; "I don't know, maybe Paris" names a
candidate and goes to the LLM judge. Kept short on purpose: every entry is an answer that
could never be a right answer to a factual question (and a ground truth that happens to be
one of them still matches first).
"""


@dataclass(frozen=True)
class RulesDecision:
    """What the rules decided (None: they cannot say) and why, in a few words."""

    verdict: Verdict | None
    reason: str


def rules_decision(prediction: str | None, answers: list[str]) -> RulesDecision:
    """The rules' decision on one prediction against the ground truth and its aliases, with the reason."""
    if prediction is None or not normalize_answer(prediction):
        return RulesDecision(Verdict.NOT_ATTEMPTED, "rules: no answer was given")
    if exact_match(prediction, answers):
        return RulesDecision(Verdict.CORRECT, "rules: exact match with an accepted answer after normalisation")
    if numeric_match(prediction, answers):
        return RulesDecision(Verdict.CORRECT, "rules: the same number as an accepted answer")
    if normalize_answer(prediction) in REFUSALS:
        return RulesDecision(Verdict.NOT_ATTEMPTED, "rules: the answer is a plain refusal")
    return RulesDecision(None, "rules: no exact or numeric match with an accepted answer")


def rules_verdict(prediction: str | None, answers: list[str]) -> Verdict | None:
    """CORRECT on a match, NOT_ATTEMPTED for no answer or a plain refusal, else None (rules cannot say yes)."""
    return rules_decision(prediction, answers).verdict


def rules_only_verdict(prediction: str | None, answers: list[str]) -> Verdict:
    """The verdict when rules are the whole judge (``--judge rules``): no match means INCORRECT."""
    return rules_verdict(prediction, answers) or Verdict.INCORRECT
