"""The two fixed baselines: `direct` (answer from the image alone) and `rag` (always image
search, then a text query the model writes, a text search, and the answer).

The rules for replies that miss the protocol are the loop's (see `fvqa.agent.loop`); rag
adds one: a reply with no usable query is searched with the question itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fvqa.agent.loop import Action, _finish, assistant, first_action_text, format_results, user
from fvqa.agent.tags import parse_turn
from fvqa.agent.trajectory import Outcome, Trajectory, Turn

if TYPE_CHECKING:
    from fvqa.agent.loop import _Run


async def run_direct(question: str, image: bytes, run: _Run) -> Trajectory:
    run.messages = [user(run.config.prompts.render("direct", question=question), [image])]
    asked = await run.ask(1)
    if asked is None:
        return run.trajectory
    result, turn = asked
    parsed = parse_turn(result.text or "")
    turn.text = (result.text or "").strip()
    turn.action = str(Action.ANSWER)
    run.trajectory.turns.append(turn)
    if parsed.answer:
        return run.end(Outcome.ANSWERED, answer=parsed.answer)
    if turn.text and "<answer>" not in turn.text:
        turn.problems.append("no_answer_tags")
        turn.handling = "direct mode: took the whole reply as the answer"
        return run.end(Outcome.ANSWERED, answer=turn.text)
    turn.problems.append("empty_answer")
    return run.end(Outcome.PARSE_ERROR, error="the reply held no answer")


async def run_rag(question: str, image: bytes, run: _Run) -> Trajectory:
    prompts = run.config.prompts
    first = Turn(round=1, text=None, action=str(Action.IMAGE_SEARCH), handling="rag mode: fixed image search")
    run.trajectory.turns.append(first)
    found = await run.search(Action.IMAGE_SEARCH, "", image, first)
    if found is None:
        return run.trajectory
    text, thumbs = format_results(found)
    run.messages = [user(prompts.render("rag_query", results=text, question=question), [image, *thumbs])]
    asked = await run.ask(2)
    if asked is None:
        return run.trajectory
    result, turn = asked
    kept, action = first_action_text(result.text or "")
    parsed = parse_turn(kept)
    turn.text, turn.action = kept, str(Action.TEXT_SEARCH)
    query = parsed.query if action is Action.TEXT_SEARCH and parsed.query else question
    if query == question:
        turn.problems.append("no_query")
        turn.handling = "rag mode: searched with the question itself"
    run.trajectory.turns.append(turn)
    found = await run.search(Action.TEXT_SEARCH, query, image, turn)
    if found is None:
        return run.trajectory
    text, _ = format_results(found)
    run.messages += [
        assistant(kept),
        user(
            prompts.render("information", results=text, question=question, instruction=prompts.render("instruct_final"))
        ),
    ]
    asked = await run.ask(3)
    if asked is None:
        return run.trajectory
    result, turn = asked
    return _finish(run, result.text or "", turn, last=True)
