"""Tests for fvqa.eval.judge_rules: the judge stage that needs no model."""

from __future__ import annotations

import pytest

from fvqa.eval.judge_rules import REFUSALS, rules_decision, rules_only_verdict, rules_verdict
from fvqa.eval.records import Verdict

EIFFEL = ["Eiffel Tower", "La Tour Eiffel", "Tour Eiffel"]


def test_exact_match_with_the_ground_truth() -> None:
    assert rules_verdict("Eiffel Tower", EIFFEL) is Verdict.CORRECT


def test_match_with_an_alias() -> None:
    assert rules_verdict("tour eiffel", EIFFEL) is Verdict.CORRECT


@pytest.mark.parametrize("prediction", ["the Eiffel Tower.", "  EIFFEL   tower ", "Eiffel Tower?", "An Eiffel Tower!"])
def test_normalisation_case_punctuation_articles_and_spaces(prediction: str) -> None:
    assert rules_verdict(prediction, EIFFEL) is Verdict.CORRECT


@pytest.mark.parametrize(
    ("prediction", "answers"),
    [("5,500", ["5500"]), ("5500", ["5,500"]), ("5500.0", ["5500"]), ("-3.5", ["-3.50"]), ("42.", ["42"])],
)
def test_equal_plain_numbers_match(prediction: str, answers: list[str]) -> None:
    assert rules_verdict(prediction, answers) is Verdict.CORRECT


def test_different_numbers_are_not_a_match() -> None:
    assert rules_verdict("5501", ["5,500"]) is None
    assert rules_verdict("5500 metres", ["5.5 km"]) is None  # units are the LLM judge's business


@pytest.mark.parametrize("prediction", [None, "", "   ", "...", "?!"])
def test_no_answer_is_not_attempted(prediction: str | None) -> None:
    assert rules_verdict(prediction, EIFFEL) is Verdict.NOT_ATTEMPTED


@pytest.mark.parametrize(
    "prediction", ["I don't know.", "I do not know", "Unknown", "Cannot be determined.", "not sure"]
)
def test_plain_refusals_are_not_attempted(prediction: str) -> None:
    assert rules_verdict(prediction, EIFFEL) is Verdict.NOT_ATTEMPTED


def test_a_refusal_that_names_a_candidate_is_left_to_the_llm() -> None:
    assert rules_verdict("I don't know, maybe the Eiffel Tower", EIFFEL) is None


def test_a_ground_truth_that_reads_like_a_refusal_still_matches() -> None:
    assert rules_verdict("Unknown", ["unknown"]) is Verdict.CORRECT


def test_no_match_means_the_rules_cannot_say() -> None:
    assert rules_verdict("Paris, France", ["Paris"]) is None
    assert rules_verdict("Big Ben", EIFFEL) is None
    assert rules_verdict("Eiffel", EIFFEL) is None  # no substring matching in the judge
    assert rules_verdict("anything", []) is None


def test_rules_only_mode_maps_no_match_to_incorrect_and_keeps_the_rest() -> None:
    assert rules_only_verdict("Big Ben", EIFFEL) is Verdict.INCORRECT
    assert rules_only_verdict("Eiffel Tower", EIFFEL) is Verdict.CORRECT
    assert rules_only_verdict(None, EIFFEL) is Verdict.NOT_ATTEMPTED


def test_every_decision_says_why() -> None:
    assert "exact match" in rules_decision("Eiffel Tower", EIFFEL).reason
    assert "number" in rules_decision("5500.0", ["5,500"]).reason
    assert "refusal" in rules_decision("I don't know", EIFFEL).reason
    assert "no answer" in rules_decision(None, EIFFEL).reason
    assert "no exact" in rules_decision("Big Ben", EIFFEL).reason


def test_the_refusal_list_is_short_and_already_normalised() -> None:
    from fvqa.answers import normalize_answer

    assert len(REFUSALS) <= 15
    assert all(normalize_answer(entry) == entry for entry in REFUSALS)
