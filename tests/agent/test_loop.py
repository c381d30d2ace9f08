"""The agent loop's rules, driven by a scripted model (a test double of the chat interface:
it replays fixed replies in order and records what it was sent)."""

import asyncio

import pytest

from fvqa.agent.loop import AgentConfig, Limits, Mode, ProtocolName, Searches, run_agent
from fvqa.agent.trajectory import Outcome
from fvqa.models.results import ChatResult, ErrorKind, ModelError
from fvqa.search.types import SearchError, SearchErrorKind, SearchResult, WebPage
from tests.conftest import image_bytes

IMAGE = image_bytes(7)
THUMB = image_bytes(8, size=(32, 32))


class ScriptedModel:
    def __init__(self, *replies):
        self.replies = list(replies)
        self.sent: list[list[dict]] = []

    async def complete(self, messages, **kwargs):
        self.sent.append([dict(m) for m in messages])
        reply = self.replies.pop(0)
        if isinstance(reply, ChatResult):
            return reply
        if isinstance(reply, list):  # tool calls
            return ChatResult(text="", tool_calls=reply, attempts=1)
        return ChatResult(text=reply, attempts=1)


def image_search(image: bytes) -> SearchResult:
    page = WebPage("Eileen Collins - NASA", "https://nasa.example/collins", thumbnail=THUMB, score=0.9)
    return SearchResult("image_search", "sha", "test", pages=(page,))


def text_search(query: str) -> SearchResult:
    page = WebPage("STS-93", "https://shuttle.example/sts-93", summary="Collins commanded STS-93 in 1999.")
    return SearchResult("text_search", query, "test", pages=(page,))


def failing(kind):
    def search(_):
        return SearchResult("text_search", "q", "test", error=SearchError(kind, "it broke"))

    return search


SEARCHES = Searches(image=image_search, text=text_search)
IMG = "<reason>Who is this?</reason><search><img></search>"
TXT = "<reason>Find the year.</reason><text_search>Collins first command</text_search>"
ANS = "<reason>It says 1999.</reason><answer>1999</answer>"


def run(model, mode=Mode.AGENT, protocol=ProtocolName.TAGS, searches=SEARCHES, limits=None):
    config = AgentConfig(mode=mode, protocol=protocol, limits=limits or Limits())
    return asyncio.run(run_agent("When did she first command?", IMAGE, model, searches, config))


def text_of(message) -> str:
    content = message["content"]
    return content if isinstance(content, str) else content[0]["text"]


def images_in(message) -> int:
    content = message["content"]
    return 0 if isinstance(content, str) else sum(part["type"] == "image_url" for part in content)


def test_full_tag_trajectory():
    model = ScriptedModel(IMG, TXT, ANS)
    traj = run(model)
    assert traj.outcome is Outcome.ANSWERED and traj.answer == "1999"
    assert (traj.image_searches, traj.text_searches, traj.search_failures) == (1, 1, 0)
    assert [t.action for t in traj.turns] == ["image_search", "text_search", "answer"]
    assert traj.turns[0].tool_call.pages[0]["thumbnail_sha256"]  # thumbnails by hash
    first, second, third = model.sent
    assert images_in(first[0]) == 1  # the question's image
    assert "<information>" in text_of(second[-1]) and images_in(second[-1]) == 1  # one thumbnail
    assert "Collins commanded STS-93" in text_of(third[-1]) and "last reply" in text_of(third[-1])


def test_reply_with_no_action_gets_one_correction():
    traj = run(ScriptedModel("I think it was 1999.", ANS))
    assert traj.outcome is Outcome.ANSWERED
    assert "no_action" in traj.turns[0].problems and traj.turns[0].handling


def test_no_usable_answer_in_the_last_round_is_a_parse_error():
    traj = run(ScriptedModel("hmm", "still no tags", "<reason>r</reason><answer> </answer>"))
    assert traj.outcome is Outcome.PARSE_ERROR and traj.answer is None
    assert "empty_answer" in traj.turns[-1].problems
    assert run(ScriptedModel("hmm", "no", "")).outcome is Outcome.PARSE_ERROR


def test_a_last_reply_without_tags_is_taken_whole():
    traj = run(ScriptedModel("hmm", "still thinking", "  It is Eileen Collins. "))
    assert traj.outcome is Outcome.ANSWERED and traj.answer == "It is Eileen Collins."
    assert "no_answer_tags" in traj.turns[-1].problems and traj.turns[-1].handling


def test_search_in_the_last_round_ends_without_answer():
    traj = run(ScriptedModel(IMG, TXT, TXT))
    assert traj.outcome is Outcome.NO_ANSWER and traj.answer is None
    assert traj.text_searches == 1  # the last-round search was not run


def test_searches_over_their_limits_are_not_run():
    model = ScriptedModel(TXT, IMG, ANS)  # image search after the first round
    traj = run(model)
    assert traj.outcome is Outcome.ANSWERED
    assert traj.image_searches == 0 and "search_over_limit" in traj.turns[1].problems
    assert "only available in the first reply" in text_of(model.sent[2][-1])
    traj = run(ScriptedModel(TXT, TXT, ANS), limits=Limits(max_rounds=3, text_searches=1))
    assert traj.text_searches == 1 and "search_over_limit" in traj.turns[1].problems


def test_only_the_first_action_counts():
    model = ScriptedModel(IMG + " <information>made up</information><answer>Paris</answer>", ANS)
    traj = run(model)
    assert traj.answer == "1999" and traj.image_searches == 1
    assert traj.turns[0].text.endswith("<search><img></search>") and "multiple_actions" in traj.turns[0].problems
    assert "made up" not in text_of(model.sent[1][1])  # what the model said after its action is cut


def test_model_failure_ends_the_trajectory():
    error = ChatResult(error=ModelError(ErrorKind.SERVER_ERROR, 500, "boom"), attempts=5)
    traj = run(ScriptedModel(IMG, error))
    assert traj.outcome is Outcome.MODEL_ERROR and "server_error" in traj.error
    assert traj.turns[-1].model_attempts == 5


def test_ordinary_search_failures_are_told_to_the_model_harness_ones_end_the_run():
    model = ScriptedModel(TXT, ANS)
    traj = run(model, searches=Searches(image=image_search, text=failing(SearchErrorKind.TIMEOUT)))
    assert traj.outcome is Outcome.ANSWERED and traj.search_failures == 1
    assert "The search failed (timeout)" in text_of(model.sent[1][-1])
    traj = run(ScriptedModel(TXT, ANS), searches=Searches(image=image_search, text=failing(SearchErrorKind.CACHE_MISS)))
    assert traj.outcome is Outcome.TOOL_ERROR and "cache_miss" in traj.error
    traj = run(ScriptedModel(IMG, ANS), searches=Searches())
    assert traj.outcome is Outcome.TOOL_ERROR and "not_configured" in traj.error


def test_direct_mode():
    assert run(ScriptedModel(ANS), mode=Mode.DIRECT).answer == "1999"
    loose = run(ScriptedModel("  Eileen Collins "), mode=Mode.DIRECT)
    assert loose.answer == "Eileen Collins" and "no_answer_tags" in loose.turns[0].problems
    assert run(ScriptedModel("<answer></answer>"), mode=Mode.DIRECT).outcome is Outcome.PARSE_ERROR


def test_rag_mode_searches_twice_then_answers():
    model = ScriptedModel(TXT, ANS)
    traj = run(model, mode=Mode.RAG)
    assert traj.outcome is Outcome.ANSWERED and (traj.image_searches, traj.text_searches) == (1, 1)
    assert traj.turns[1].tool_call.query == "Collins first command"
    no_query = run(ScriptedModel("I would search for her.", ANS), mode=Mode.RAG)
    assert (
        no_query.turns[1].tool_call.query == "When did she first command?" and "no_query" in no_query.turns[1].problems
    )


def call(name, arguments="{}", id_="c1"):
    return {"id": id_, "name": name, "arguments": arguments}


def test_tools_protocol():
    model = ScriptedModel([call("image_search")], [call("text_search", '{"query": "Collins 1999"}')], ANS)
    traj = run(model, protocol=ProtocolName.TOOLS)
    assert traj.outcome is Outcome.ANSWERED and traj.answer == "1999"
    assert (traj.image_searches, traj.text_searches) == (1, 1)
    sent = model.sent[1]
    assert sent[1]["tool_calls"][0]["function"]["name"] == "image_search"
    assert sent[2]["role"] == "tool" and "Eileen Collins - NASA" in sent[2]["content"]

    both = ScriptedModel([call("text_search", '{"query": "a"}'), call("image_search", id_="c2")], "Collins")
    traj = run(both, protocol=ProtocolName.TOOLS)
    assert traj.text_searches == 1 and traj.image_searches == 0 and "multiple_actions" in traj.turns[0].problems
    assert traj.answer == "Collins" and "no_answer_tags" in traj.turns[-1].problems
    assert [m["tool_call_id"] for m in both.sent[1] if m["role"] == "tool"] == ["c1", "c2"]


@pytest.mark.parametrize("arguments", ["not json", '{"q": 1}', "[]"])
def test_tools_protocol_bad_arguments_are_an_empty_query(arguments):
    traj = run(ScriptedModel([call("text_search", arguments)], ANS), protocol=ProtocolName.TOOLS)
    assert traj.text_searches == 0 and "search_over_limit" in traj.turns[0].problems
