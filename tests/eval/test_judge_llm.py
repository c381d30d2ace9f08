"""Tests for fvqa.eval.judge_llm: the LLM judge against a real localhost (fake) chat server."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from fvqa.cache import Cache
from fvqa.eval.judge_llm import (
    DEFAULT_TEMPLATE_PATH,
    NO_ANSWER_TEXT,
    JudgeCall,
    LLMJudge,
    TemplateError,
    default_template,
    load_template,
    parse_verdict,
    render_prompt,
    validate_template,
)
from fvqa.eval.records import Verdict
from fvqa.models import ChatClient

from ..models.fake_openai_server import FakeOpenAIServer, error, ok

QUESTION = "Which tower is shown in the photo?"
ANSWERS = ["Eiffel Tower", "Tour Eiffel"]


@pytest.fixture
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


def judge_for(server: FakeOpenAIServer, tmp_path: Path, **kwargs: object) -> LLMJudge:
    client = ChatClient(
        server.base_url,
        "fake-judge",
        backoff_base_s=0.01,
        backoff_max_s=0.05,
        timeout_s=5.0,
        max_attempts=3,
        cache=Cache(tmp_path / "responses.sqlite"),
    )
    return LLMJudge(client, **kwargs)  # type: ignore[arg-type]


def grade(judge: LLMJudge, prediction: str | None = "the iron tower in Paris") -> JudgeCall:
    async def once() -> JudgeCall:
        try:
            return await judge.grade(QUESTION, ANSWERS, prediction)
        finally:
            await judge.client.aclose()

    return asyncio.run(once())


# --- through the server ----------------------------------------------------------------------


def test_clean_correct_reply(fake: FakeOpenAIServer, tmp_path: Path) -> None:
    fake.script(ok("CORRECT"))
    call = grade(judge_for(fake, tmp_path))
    assert call == JudgeCall(Verdict.CORRECT, explanation="CORRECT", error=None, cached=False)
    body = fake.last_body
    assert body["temperature"] == 0
    assert body["model"] == "fake-judge"
    [message] = body["messages"]
    assert message["role"] == "user"
    assert QUESTION in message["content"]
    assert "- Eiffel Tower\n- Tour Eiffel" in message["content"]
    assert "the iron tower in Paris" in message["content"]


def test_reasoning_then_a_final_label(fake: FakeOpenAIServer, tmp_path: Path) -> None:
    reply = "The answer names Big Ben, a clock tower in London.\nThat contradicts the reference.\n\nINCORRECT\n"
    fake.script(ok(reply))
    call = grade(judge_for(fake, tmp_path), "Big Ben")
    assert call.verdict is Verdict.INCORRECT
    assert call.explanation == reply
    assert call.error is None


def test_markdown_emphasis_and_punctuation_around_the_label(fake: FakeOpenAIServer, tmp_path: Path) -> None:
    fake.script(ok("The model declined to answer.\n**Not_attempted**."))
    assert grade(judge_for(fake, tmp_path), "no idea, sorry").verdict is Verdict.NOT_ATTEMPTED


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("Maybe correct?", "not exactly one of"),
        ("Both readings are defensible.\nCORRECT INCORRECT", "more than one label"),
        ("", "empty"),
        ("CORRECT\nbecause it names the tower", "not exactly one of"),
    ],
)
def test_unparseable_replies_are_judge_failures(
    fake: FakeOpenAIServer, tmp_path: Path, reply: str, reason: str
) -> None:
    fake.script(ok(reply))
    call = grade(judge_for(fake, tmp_path))
    assert call.verdict is None
    assert not call.ok
    assert call.error is not None
    assert call.error.startswith("unparseable judge reply")
    assert reason in call.error
    assert call.explanation == reply  # the judge's text is kept for whoever reads the log


def test_server_errors_after_retries_are_a_judge_failure(fake: FakeOpenAIServer, tmp_path: Path) -> None:
    fake.script(error(500), error(500), error(500))
    call = grade(judge_for(fake, tmp_path))
    assert call.verdict is None
    assert call.error is not None
    assert "judge call failed" in call.error
    assert "server_error" in call.error
    assert fake.requests == 3  # max_attempts, all spent
    fake.script(ok("CORRECT"))  # a failure is never cached: the next grade asks again
    assert grade(judge_for(fake, tmp_path)).verdict is Verdict.CORRECT
    assert fake.requests == 4


def test_a_repeated_grade_is_served_from_the_cache(fake: FakeOpenAIServer, tmp_path: Path) -> None:
    judge = judge_for(fake, tmp_path)
    fake.script(ok("Same tower.\nCORRECT"))
    first = grade(judge)
    second = grade(judge)
    assert fake.requests == 1
    assert (first.verdict, first.cached) == (Verdict.CORRECT, False)
    assert (second.verdict, second.cached) == (Verdict.CORRECT, True)
    assert second.explanation == first.explanation
    fake.script(ok("INCORRECT"))
    assert grade(judge, "Big Ben").verdict is Verdict.INCORRECT  # another prediction is another call
    assert fake.requests == 2


def test_a_user_template_is_what_gets_sent(fake: FakeOpenAIServer, tmp_path: Path) -> None:
    path = tmp_path / "my_judge.txt"
    path.write_text('Q: {question}\nGold:\n{answers}\nSaid: {prediction}\nJSON example: {"label": "CORRECT"}\n')
    judge = judge_for(fake, tmp_path, template_path=path)
    fake.script(ok("CORRECT"))
    grade(judge, "Eiffel")
    sent = fake.last_body["messages"][0]["content"]
    assert sent == (
        f'Q: {QUESTION}\nGold:\n- Eiffel Tower\n- Tour Eiffel\nSaid: Eiffel\nJSON example: {{"label": "CORRECT"}}\n'
    )
    assert judge.template_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert judge.describe()["template_source"] == str(path)


# --- templates -------------------------------------------------------------------------------


def test_the_default_template_holds_every_placeholder_and_its_hash_is_stable(tmp_path: Path) -> None:
    text = default_template()
    assert validate_template(text) == text
    judge = LLMJudge(ChatClient("http://127.0.0.1:9/v1", "m"))
    assert judge.template_hash == hashlib.sha256(DEFAULT_TEMPLATE_PATH.read_bytes()).hexdigest()
    assert judge.describe() == {
        "model": "m",
        "template_hash": judge.template_hash,
        "template_source": "default",
        "temperature": 0.0,
        "max_tokens": 1024,
    }
    for label in ("CORRECT", "INCORRECT", "NOT_ATTEMPTED"):
        assert label in text


def test_a_template_without_a_placeholder_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text("Question: {question}\nAnswers: {answers}\nGrade it.\n")
    with pytest.raises(TemplateError, match=r"bad\.txt lacks the placeholder\(s\) \{prediction\}"):
        load_template(path)
    with pytest.raises(TemplateError, match=r"lacks the placeholder\(s\) \{question\}, \{prediction\}"):
        LLMJudge(ChatClient("http://127.0.0.1:9/v1", "m"), "Answers: {answers}")
    with pytest.raises(TemplateError, match="cannot read the judge template"):
        LLMJudge(ChatClient("http://127.0.0.1:9/v1", "m"), template_path=tmp_path / "missing.txt")
    with pytest.raises(TemplateError, match="not both"):
        LLMJudge(ChatClient("http://127.0.0.1:9/v1", "m"), "x", template_path=path)


def test_values_are_substituted_once() -> None:
    template = "{question} | {answers} | {prediction}"
    prompt = render_prompt(template, "What is {prediction}?", ["{question}"], "  {answers}  ")
    assert prompt == "What is {prediction}? | - {question} | {answers}"
    assert render_prompt(template, "Q", [], None) == f"Q | - (none given) | {NO_ANSWER_TEXT}"


# --- strict parsing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("CORRECT", Verdict.CORRECT),
        ("correct", Verdict.CORRECT),
        ("Reasoning...\n\n  INCORRECT  \n\n", Verdict.INCORRECT),
        ("**CORRECT.**", Verdict.CORRECT),
        ("_Incorrect_!", Verdict.INCORRECT),
        ("`NOT_ATTEMPTED`", Verdict.NOT_ATTEMPTED),
        ("Not attempted.", Verdict.NOT_ATTEMPTED),
        ("The answer is right, not incorrect.\nCORRECT", Verdict.CORRECT),
    ],
)
def test_parse_accepts_one_label_on_the_last_line(reply: str, verdict: Verdict) -> None:
    assert parse_verdict(reply) == (verdict, None)


@pytest.mark.parametrize(
    "reply",
    [
        None,
        "   \n\n",
        "Verdict: CORRECT",
        "CORRECT.\nI think.",
        "correct or incorrect",
        "It is NOT_ATTEMPTED / INCORRECT",
        "PARTIALLY CORRECT",
        "Incorrectly phrased",
    ],
)
def test_parse_never_guesses(reply: str | None) -> None:
    verdict, reason = parse_verdict(reply)
    assert verdict is None
    assert reason
