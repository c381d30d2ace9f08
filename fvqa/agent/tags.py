"""The tag protocol's grammar: what a model turn asks for, and whether it is well formed.

A turn reasons in `<reason>...</reason>` and ends with one action: `<answer>...</answer>`,
`<search><img></search>` (image search of the question's image) or
`<text_search>query</text_search>`. These rules are shared by the training reward (format
and search counting, exactly as DESIGN.md "Reward" states them) and by the evaluation
agent (which needs to know what a turn asked for, and why a turn is unusable).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

IMAGE_SEARCH_TAG = "<search><img></search>"
_REASON = re.compile(r"<reason>(.*?)</reason>", re.DOTALL)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_TEXT_SEARCH = re.compile(r"<text_search>(.*?)</text_search>", re.DOTALL)
_ACTION_TAGS = ("<answer>", "</answer>", "<text_search>", "</text_search>", "<search>", "</search>", "<img>")


class Action(enum.StrEnum):
    ANSWER = "answer"
    IMAGE_SEARCH = "image_search"
    TEXT_SEARCH = "text_search"
    NONE = "none"


@dataclass(frozen=True)
class ParsedTurn:
    """What one model turn asks for.

    `action` is the action the turn ENDS with (the protocol puts the action last); when a
    turn holds several actions, `actions` lists them in order of appearance and
    `problems` says so. `answer` / `query` are stripped; None when absent.
    """

    action: Action
    actions: tuple[Action, ...]
    reason: str | None
    answer: str | None
    query: str | None
    problems: tuple[str, ...]


def _actions_in_order(text: str) -> list[tuple[int, Action]]:
    found = [(m.start(), Action.ANSWER) for m in _ANSWER.finditer(text)]
    found += [(m.start(), Action.TEXT_SEARCH) for m in _TEXT_SEARCH.finditer(text)]
    start = text.find(IMAGE_SEARCH_TAG)
    while start != -1:
        found.append((start, Action.IMAGE_SEARCH))
        start = text.find(IMAGE_SEARCH_TAG, start + 1)
    return sorted(found)


def parse_turn(text: str) -> ParsedTurn:
    """Read one model turn; never raises. Problems: no_action, multiple_actions,
    missing_reason, empty_answer, empty_query, text_after_action."""
    stripped = text.strip()
    ordered = _actions_in_order(stripped)
    actions = tuple(action for _, action in ordered)
    problems: list[str] = []
    reason_match = _REASON.search(stripped)
    if reason_match is None:
        problems.append("missing_reason")
    if not actions:
        problems.append("no_action")
    elif len(actions) > 1:
        problems.append("multiple_actions")
    last = actions[-1] if actions else Action.NONE
    answers = _ANSWER.findall(stripped)
    queries = _TEXT_SEARCH.findall(stripped)
    answer = answers[-1].strip() if answers else None
    query = queries[-1].strip() if queries else None
    if last is Action.ANSWER and not answer:
        problems.append("empty_answer")
    if last is Action.TEXT_SEARCH and not query:
        problems.append("empty_query")
    if actions and not _ends_with_action(stripped, last):
        problems.append("text_after_action")
    return ParsedTurn(
        action=last,
        actions=actions,
        reason=reason_match.group(1).strip() if reason_match else None,
        answer=answer,
        query=query,
        problems=tuple(problems),
    )


def _ends_with_action(text: str, action: Action) -> bool:
    if action is Action.IMAGE_SEARCH:
        return text.endswith(IMAGE_SEARCH_TAG)
    closing = "</answer>" if action is Action.ANSWER else "</text_search>"
    return text.endswith(closing)


def turn_well_formed(text: str) -> bool:
    """DESIGN.md's rule for one turn: stripped, it starts with its one reason block, ends
    with its one action, and holds no other action tag."""
    stripped = text.strip()
    if not stripped.startswith("<reason>") or stripped.count("<reason>") != 1 or stripped.count("</reason>") != 1:
        return False
    parsed = parse_turn(stripped)
    if len(parsed.actions) != 1 or "text_after_action" in parsed.problems:
        return False
    body = stripped[stripped.index("</reason>") + len("</reason>") :]
    expected = {
        Action.ANSWER: ("<answer>", "</answer>"),
        Action.TEXT_SEARCH: ("<text_search>", "</text_search>"),
        Action.IMAGE_SEARCH: ("<search>", "</search>", "<img>"),
    }[parsed.action]
    # No action tag other than the action's own, and each of those exactly once.
    return all(body.count(tag) == (1 if tag in expected else 0) for tag in _ACTION_TAGS)


_ALLOWED_SHAPES = {
    (Action.ANSWER,),
    (Action.IMAGE_SEARCH, Action.ANSWER),
    (Action.TEXT_SEARCH, Action.ANSWER),
    (Action.IMAGE_SEARCH, Action.TEXT_SEARCH, Action.ANSWER),
}


def trajectory_well_formed(turns: list[str]) -> bool:
    """True only for the four allowed shapes (answer; image search, answer; text search,
    answer; image search, text search, answer) with every turn well formed. More than three
    turns is badly formed, not an error."""
    if not turns or len(turns) > 3 or not all(turn_well_formed(t) for t in turns):
        return False
    return tuple(parse_turn(t).action for t in turns) in _ALLOWED_SHAPES


def _asks_for_search(turn: str) -> bool:
    return IMAGE_SEARCH_TAG in turn or ("<text_search>" in turn and "</text_search>" in turn)


def count_searches(turns: list[str]) -> int:
    """Searches as the reward counts them: one per turn that asks for any search, over every
    turn but the last (or the only turn, when there is one), well formed or not."""
    counted = turns if len(turns) == 1 else turns[:-1]
    return sum(1 for turn in counted if _asks_for_search(turn))


def final_answer(turns: list[str]) -> str | None:
    """The last `<answer>...</answer>` of the last turn, stripped; None when there is none."""
    if not turns:
        return None
    answers = _ANSWER.findall(turns[-1])
    return answers[-1].strip() if answers else None
