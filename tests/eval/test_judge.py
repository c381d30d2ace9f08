"""Tests for fvqa.eval.judge: rules first, the LLM only where the rules cannot say."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from fvqa.eval.judge import Judge, JudgeOutcome, endpoint_host
from fvqa.eval.judge_rules import RULES_VERSION
from fvqa.eval.records import JudgeStage, SampleLog, Status, Verdict
from fvqa.models import ChatClient

from ..models.fake_openai_server import FakeOpenAIServer, error, ok

QUESTION = "Which tower is shown in the photo?"
ANSWERS = ["Eiffel Tower", "Tour Eiffel"]


@pytest.fixture
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


def llm_judge(server: FakeOpenAIServer) -> Judge:
    client = ChatClient(server.base_url, "fake-judge", backoff_base_s=0.01, max_attempts=2, timeout_s=5.0)
    return Judge.with_llm(client)


def run(judge: Judge, *predictions: str | None) -> list[JudgeOutcome]:
    async def all_of_them() -> list[JudgeOutcome]:
        try:
            return list(await asyncio.gather(*(judge.judge(QUESTION, ANSWERS, p) for p in predictions)))
        finally:
            if judge.llm is not None:
                await judge.llm.client.aclose()

    return asyncio.run(all_of_them())


def test_rules_decide_without_any_llm_call(fake: FakeOpenAIServer) -> None:
    match, alias, empty, refusal = run(llm_judge(fake), "the Eiffel Tower", "tour eiffel", None, "I don't know.")
    assert fake.requests == 0
    for outcome in (match, alias):
        assert (outcome.verdict, outcome.stage, outcome.rules_verdict) == (
            Verdict.CORRECT,
            JudgeStage.RULES,
            Verdict.CORRECT,
        )
        assert outcome.error is None
    for outcome in (empty, refusal):  # NOT_ATTEMPTED from the rules is final too
        assert (outcome.verdict, outcome.stage, outcome.rules_verdict) == (
            Verdict.NOT_ATTEMPTED,
            JudgeStage.RULES,
            Verdict.NOT_ATTEMPTED,
        )
    assert "exact match" in (match.explanation or "")


def test_the_llm_decides_what_the_rules_cannot(fake: FakeOpenAIServer) -> None:
    fake.script(ok("A more specific form of the reference.\nCORRECT"))
    [outcome] = run(llm_judge(fake), "The Eiffel Tower in Paris, France")
    assert fake.requests == 1
    assert outcome == JudgeOutcome(
        Verdict.CORRECT,
        JudgeStage.LLM,
        "A more specific form of the reference.\nCORRECT",
        rules_verdict=None,
        error=None,
        cached=False,
    )


def test_an_llm_failure_is_a_judge_failure_not_a_grade(fake: FakeOpenAIServer) -> None:
    fake.script(error(503), error(503), ok("probably right"))
    [failed] = run(llm_judge(fake), "Some iron tower")
    [unreadable] = run(llm_judge(fake), "Some iron tower")
    for outcome in (failed, unreadable):
        assert outcome.verdict is None
        assert not outcome.ok
        assert outcome.stage is None
        assert outcome.rules_verdict is None
    assert "server_error" in (failed.error or "")
    assert "unparseable" in (unreadable.error or "")
    assert unreadable.explanation == "probably right"


def test_rules_only_mode_never_needs_a_model() -> None:
    judge = Judge.rules_only()
    assert judge.kind == "rules"
    correct, wrong, refusal = run(judge, "Eiffel Tower", "Big Ben", "unknown")
    assert (correct.verdict, correct.stage) == (Verdict.CORRECT, JudgeStage.RULES)
    assert (wrong.verdict, wrong.stage, wrong.rules_verdict) == (Verdict.INCORRECT, JudgeStage.RULES, None)
    assert (refusal.verdict, refusal.stage) == (Verdict.NOT_ATTEMPTED, JudgeStage.RULES)
    assert judge.describe() == {"kind": "rules", "rules_version": RULES_VERSION}


def test_describe_names_model_host_and_template_but_never_a_key() -> None:
    client = ChatClient(
        "https://user:hunter2@judge.example.org:8443/v1?key=tok-xyz", "judge-model", api_key="sk-secret-1234"
    )
    info = Judge.with_llm(client).describe()
    assert info["kind"] == "llm"
    assert info["model"] == "judge-model"
    assert info["base_url_host"] == "judge.example.org:8443"
    assert info["rules_version"] == RULES_VERSION
    assert len(info["template_hash"]) == 64
    dumped = json.dumps(info)
    for secret in ("sk-secret-1234", "hunter2", "tok-xyz", "user"):
        assert secret not in dumped


@pytest.mark.parametrize(
    ("url", "host"),
    [("http://127.0.0.1:8000/v1", "127.0.0.1:8000"), ("https://api.example.com/v1", "api.example.com"), ("", "")],
)
def test_endpoint_host(url: str, host: str) -> None:
    assert endpoint_host(url) == host


def test_an_outcome_fills_the_sample_log_fields(fake: FakeOpenAIServer) -> None:
    fake.script(ok("INCORRECT"))
    [outcome] = run(llm_judge(fake), "Big Ben")
    log = SampleLog(
        id="s1",
        status=Status.OK if outcome.ok else Status.JUDGE_ERROR,
        question=QUESTION,
        answers=ANSWERS,
        answer="Big Ben",
        verdict=outcome.verdict,
        judge_stage=outcome.stage,
        judge_explanation=outcome.explanation,
        rules_verdict=outcome.rules_verdict,
        error=outcome.error,
    )
    assert SampleLog.model_validate_json(log.model_dump_json()) == log
    assert (log.verdict, log.judge_stage) == (Verdict.INCORRECT, JudgeStage.LLM)
