"""The agent in function-calling form: `image_search()` and `text_search(query)` as tools.

Same limits and rules as the tag protocol (see `fvqa.agent.loop`), adapted: only the first
tool call of a reply is run (the others get a "not run" tool message, so the conversation
stays valid); a final reply is its `<answer>` if it has one, else its whole text.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from fvqa.agent.tags import Action, parse_turn
from fvqa.agent.trajectory import Outcome, Trajectory

if TYPE_CHECKING:
    from fvqa.agent.loop import _Run

TOOL_SPECS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "image_search",
            "description": "Find web pages that show the question's image. Returns titles, URLs and thumbnails.",
            "parameters": {"type": "object", "properties": {}},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "text_search",
            "description": "Search the web for text. Returns titles, URLs and short summaries.",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string", "description": "a short search query"}},
                "required": ["query"],
            },
        },
    },
]
_ACTIONS = {"image_search": Action.IMAGE_SEARCH, "text_search": Action.TEXT_SEARCH}


def _query(arguments: str) -> str:
    try:
        parsed = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return ""
    return str(parsed.get("query", "")).strip() if isinstance(parsed, dict) else ""


async def run_tools_agent(question: str, image: bytes, run: _Run) -> Trajectory:
    from fvqa.agent.loop import _over_limit, format_results, user

    limits, prompts, traj = run.config.limits, run.config.prompts, run.trajectory
    opening = prompts.render(
        "agent_tools",
        question=question,
        image_search_limit=limits.image_searches,
        text_search_limit=limits.text_searches,
    )
    run.messages = [user(opening, [image])]
    for round_ in range(1, limits.max_rounds + 1):
        last = round_ == limits.max_rounds
        asked = await run.ask(round_, tools=TOOL_SPECS)
        if asked is None:
            return traj
        result, turn = asked
        turn.text = result.text
        traj.turns.append(turn)
        if not result.tool_calls:
            turn.action = str(Action.ANSWER)
            parsed = parse_turn(result.text or "")
            answer = parsed.answer or (result.text or "").strip()
            if "<answer>" not in (result.text or "") and answer:
                turn.problems.append("no_answer_tags")
                turn.handling = "took the whole reply as the answer"
            if answer:
                return run.end(Outcome.ANSWERED, answer=answer)
            turn.problems.append("empty_answer")
            return run.end(Outcome.PARSE_ERROR, error="the reply held neither a tool call nor an answer")
        call, *ignored = result.tool_calls
        action = _ACTIONS.get(call["name"], Action.NONE)
        turn.action = str(action)
        run.messages.append(
            {
                "role": "assistant",
                "content": result.text or "",
                "tool_calls": [
                    {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                    for c in result.tool_calls
                ],
            }
        )
        if ignored:
            turn.problems.append("multiple_actions")
            turn.handling = "ran the first tool call only"
        if last:
            turn.handling = "a search asked for in the last round ends the trajectory with no answer"
            return run.end(Outcome.NO_ANSWER)
        query = _query(call["arguments"])
        over = "unknown tool " + repr(call["name"]) if action is Action.NONE else None
        over = over or _over_limit(action, query, round_, traj, limits)
        thumbs: list[bytes] = []
        if over is not None:
            turn.problems.append("search_over_limit")
            turn.handling = f"search not run: {over}"
            content = f"Not run: {over}"
        else:
            found = await run.search(action, query, image, turn)
            if found is None:
                return traj
            content, thumbs = format_results(found)
        run.messages.append({"role": "tool", "tool_call_id": call["id"], "content": content})
        for other in ignored:
            run.messages.append({"role": "tool", "tool_call_id": other["id"], "content": "Not run: one tool per turn."})
        run.messages.append(user(run.instruction(round_ + 1), thumbs))
    return traj
