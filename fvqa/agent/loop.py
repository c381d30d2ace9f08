"""The agent loop: model turns and search calls, alternating, under the protocol's limits.

Three modes share it. `direct`: one turn, no search. `rag`: the fixed retrieve-then-answer
baseline (image search, a text query the model writes, text search, answer). `agent`: the
model decides, in the tag protocol or with function calling (`fvqa.agent.tools_protocol`).

Rules for replies that do not follow the protocol (each is recorded on the turn):
- only the first complete action of a reply counts; the rest is cut, as a stop sequence would;
- a reply with no action, or an empty answer, gets a corrective turn if rounds remain; in the
  last round a reply with no action tag at all is taken whole as the answer (models never
  trained on the tags still get judged on what they said), and an empty answer ends the
  trajectory as a parse error;
- a search over its limit (or an image search after the first round) is not run: the model
  is told why and asked to go on;
- a search asked for in the last round ends the trajectory with no answer (DESIGN.md);
- a failed search is reported to the model inside <information> and counted, except the
  failures that are the harness's own (replay-cache miss, unconfigured or broken backend),
  which end the trajectory as a tool error;
- in direct mode, likewise, a reply with no <answer> tags is taken whole as the answer.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from fvqa.agent.prompts import PromptSet
from fvqa.agent.tags import IMAGE_SEARCH_TAG, Action, parse_turn
from fvqa.agent.trajectory import Outcome, ToolCall, Trajectory, Turn
from fvqa.search.types import SearchErrorKind, SearchResult

HARNESS_FAILURES = frozenset({SearchErrorKind.CACHE_MISS, SearchErrorKind.NOT_CONFIGURED, SearchErrorKind.INTERNAL})
_CLOSERS = {Action.ANSWER: "</answer>", Action.TEXT_SEARCH: "</text_search>", Action.IMAGE_SEARCH: IMAGE_SEARCH_TAG}


class Mode(enum.StrEnum):
    DIRECT = "direct"
    RAG = "rag"
    AGENT = "agent"


class ProtocolName(enum.StrEnum):
    TAGS = "tags"
    TOOLS = "tools"


@dataclass(frozen=True)
class Limits:
    max_rounds: int = 3
    image_searches: int = 1
    text_searches: int = 2
    image_search_first_round_only: bool = True

    def describe(self) -> dict[str, Any]:
        return {
            "max_rounds": self.max_rounds,
            "image_search": self.image_searches,
            "text_search": self.text_searches,
            "image_search_first_round_only": self.image_search_first_round_only,
        }


@dataclass(frozen=True)
class Generation:
    temperature: float = 0.0
    max_tokens: int = 512
    seed: int | None = None


class ChatModel(Protocol):
    """What the loop needs of a model: `fvqa.models.ChatClient` or `TextOnlyBridge`."""

    async def complete(self, messages: Sequence[dict[str, Any]], **kwargs: Any) -> Any: ...


@dataclass
class Searches:
    """The tools the agent may call; a missing one is reported as not configured."""

    image: Callable[[bytes], SearchResult] | None = None
    text: Callable[[str], SearchResult] | None = None
    on_image_results: Callable[[str, SearchResult], None] | None = None
    """Told of every image search (image sha256, result): a caption bridge learns page titles."""

    async def run_image(self, image: bytes) -> SearchResult:
        if self.image is None:
            return _not_configured("image_search", hashlib.sha256(image).hexdigest())
        result = await asyncio.to_thread(self.image, image)
        if self.on_image_results is not None:
            self.on_image_results(hashlib.sha256(image).hexdigest(), result)
        return result

    async def run_text(self, query: str) -> SearchResult:
        if self.text is None:
            return _not_configured("text_search", query)
        return await asyncio.to_thread(self.text, query)


def _not_configured(tool: str, query: str) -> SearchResult:
    from fvqa.search.types import SearchError

    error = SearchError(SearchErrorKind.NOT_CONFIGURED, f"no {tool.replace('_', ' ')} backend is configured")
    return SearchResult(tool, query, "none", error=error)  # type: ignore[arg-type]


@dataclass
class AgentConfig:
    mode: Mode = Mode.AGENT
    protocol: ProtocolName = ProtocolName.TAGS
    limits: Limits = field(default_factory=Limits)
    generation: Generation = field(default_factory=Generation)
    prompts: PromptSet = field(default_factory=PromptSet.load)


def image_part(image: bytes) -> dict[str, Any]:
    from fvqa.models.messages import image_part as make

    return make(image)


def user(text: str, images: Sequence[bytes] = ()) -> dict[str, Any]:
    if not images:
        return {"role": "user", "content": text}
    return {"role": "user", "content": [{"type": "text", "text": text}, *[image_part(i) for i in images]]}


def assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


def first_action_text(text: str) -> tuple[str, Action]:
    """The reply cut after its first complete action, and that action."""
    parsed = parse_turn(text)
    if not parsed.actions:
        return text.strip(), Action.NONE
    first = parsed.actions[0]
    end = text.find(_CLOSERS[first])
    if first is not Action.IMAGE_SEARCH:  # the closer must follow its own opener
        opener = "<answer>" if first is Action.ANSWER else "<text_search>"
        end = text.find(_CLOSERS[first], text.find(opener))
    return text[: end + len(_CLOSERS[first])].strip(), first


def format_results(result: SearchResult) -> tuple[str, list[bytes]]:
    """Search results as the model sees them: numbered text, plus thumbnails for image search."""
    if not result.ok:
        assert result.error is not None
        return f"The search failed ({result.error.kind}): {result.error.message}", []
    if not result.pages:
        return "The search found nothing.", []
    lines, images = [], []
    for rank, page in enumerate(result.pages, 1):
        line = f"{rank}. {page.title} ({page.url})"
        if page.summary:
            line += f"\n   {page.summary}"
        if page.thumbnail is not None:
            line += f"\n   [thumbnail {len(images) + 1}]"
            images.append(page.thumbnail)
        lines.append(line)
    return "\n".join(lines), images


class _Run:
    """State of one trajectory while it runs."""

    def __init__(self, model: ChatModel, searches: Searches, config: AgentConfig) -> None:
        self.model, self.searches, self.config = model, searches, config
        self.trajectory = Trajectory()
        self.messages: list[dict[str, Any]] = []

    async def ask(self, round_: int, tools: list[dict[str, Any]] | None = None) -> tuple[Any, Turn] | None:
        gen = self.config.generation
        kwargs: dict[str, Any] = {"temperature": gen.temperature, "max_tokens": gen.max_tokens}
        if gen.seed is not None:
            kwargs["seed"] = gen.seed
        if tools is not None:
            kwargs["tools"] = tools
        started = time.perf_counter()
        result = await self.model.complete(self.messages, **kwargs)
        turn = Turn(
            round=round_,
            text=result.text,
            action=str(Action.NONE),
            model_attempts=result.attempts,
            model_cached=result.cached,
            latency_s=round(time.perf_counter() - started, 6),
        )
        if not result.ok:
            self.trajectory.turns.append(turn)
            self.end(Outcome.MODEL_ERROR, error=f"{result.error.kind}: {result.error.message}")
            return None
        return result, turn

    def end(self, outcome: Outcome, *, answer: str | None = None, error: str | None = None) -> Trajectory:
        self.trajectory.outcome, self.trajectory.answer, self.trajectory.error = outcome, answer, error
        return self.trajectory

    async def search(self, action: Action, query: str, image: bytes, turn: Turn) -> SearchResult | None:
        """Run one search and record it; None when the failure ends the trajectory."""
        if action is Action.IMAGE_SEARCH:
            result = await self.searches.run_image(image)
            self.trajectory.image_searches += 1
        else:
            result = await self.searches.run_text(query)
            self.trajectory.text_searches += 1
        turn.tool_call = ToolCall.from_result(result)
        if result.error is not None:
            self.trajectory.search_failures += 1
            if result.error.kind in HARNESS_FAILURES:
                self.end(Outcome.TOOL_ERROR, error=f"{result.error.kind}: {result.error.message}")
                return None
        return result

    def instruction(self, next_round: int) -> str:
        """What to do next, in the words of the protocol in use."""
        limits, prompts = self.config.limits, self.config.prompts
        prefix = "tools" if self.config.protocol is ProtocolName.TOOLS else "instruct"
        if next_round >= limits.max_rounds:
            return prompts.render(f"{prefix}_final")
        left = limits.text_searches - self.trajectory.text_searches
        return prompts.render(f"{prefix}_continue", text_searches_left=max(left, 0))


async def run_agent(
    question: str, image: bytes, model: ChatModel, searches: Searches, config: AgentConfig
) -> Trajectory:
    """Run one sample through the configured mode and protocol; never raises for model,
    search or format failures: the trajectory's outcome says how it ended."""
    if config.mode is Mode.DIRECT:
        from fvqa.agent.baselines import run_direct

        return await run_direct(question, image, _Run(model, searches, config))
    if config.mode is Mode.RAG:
        from fvqa.agent.baselines import run_rag

        return await run_rag(question, image, _Run(model, searches, config))
    if config.protocol is ProtocolName.TOOLS:
        from fvqa.agent.tools_protocol import run_tools_agent

        return await run_tools_agent(question, image, _Run(model, searches, config))
    return await _tags_agent(question, image, _Run(model, searches, config))


def _finish(run: _Run, text: str, turn: Turn, *, last: bool) -> Trajectory:
    """Settle a reply that should be the final answer."""
    kept, action = first_action_text(text)
    parsed = parse_turn(kept)
    turn.text, turn.action = kept, str(action)
    turn.problems += list(parsed.problems)
    run.trajectory.turns.append(turn)
    if action is Action.ANSWER and parsed.answer:
        return run.end(Outcome.ANSWERED, answer=parsed.answer)
    if action in (Action.IMAGE_SEARCH, Action.TEXT_SEARCH) and last:
        turn.handling = "a search asked for in the last round ends the trajectory with no answer"
        return run.end(Outcome.NO_ANSWER)
    if action is Action.NONE and kept and "<answer>" not in kept:
        turn.problems.append("no_answer_tags")
        turn.handling = "last round, no action tag: took the whole reply as the answer"
        return run.end(Outcome.ANSWERED, answer=kept)
    return run.end(Outcome.PARSE_ERROR, error="the last reply held no usable answer")


async def _tags_agent(question: str, image: bytes, run: _Run) -> Trajectory:
    limits, prompts = run.config.limits, run.config.prompts
    opening = prompts.render(
        "agent_tags",
        question=question,
        image_search_limit=limits.image_searches,
        text_search_limit=limits.text_searches,
    )
    run.messages = [user(opening, [image])]
    for round_ in range(1, limits.max_rounds + 1):
        last = round_ == limits.max_rounds
        asked = await run.ask(round_)
        if asked is None:
            return run.trajectory
        result, turn = asked
        kept, action = first_action_text(result.text or "")
        parsed = parse_turn(kept)
        if (action is Action.ANSWER and parsed.answer) or last:
            return _finish(run, result.text or "", turn, last=last)
        turn.text, turn.action, turn.problems = kept, str(action), list(parsed.problems)
        if len(parse_turn(result.text or "").actions) > 1:
            turn.problems.append("multiple_actions")
            turn.handling = "kept the first action and cut the rest"
        run.trajectory.turns.append(turn)
        run.messages.append(assistant(kept))
        follow_up = await _tags_follow_up(run, action, parsed.query or "", question, image, round_, turn)
        if follow_up is None:
            return run.trajectory
        run.messages.append(follow_up)
    return run.trajectory  # not reached: the last round always settles


async def _tags_follow_up(
    run: _Run, action: Action, query: str, question: str, image: bytes, round_: int, turn: Turn
) -> dict[str, Any] | None:
    """The user turn that answers a non-final reply, or None when the trajectory ended."""
    limits, prompts, traj = run.config.limits, run.config.prompts, run.trajectory
    instruction = run.instruction(round_ + 1)
    if action in (Action.NONE, Action.ANSWER):  # no action, or an empty answer
        turn.handling = "asked the model to reply again with an action"
        options = []
        if traj.image_searches < limits.image_searches and not limits.image_search_first_round_only:
            options.append(IMAGE_SEARCH_TAG)
        if traj.text_searches < limits.text_searches and round_ + 1 < limits.max_rounds:
            options.append("<text_search>...</text_search>")
        extra = "".join(f" or {o}" for o in options)
        return user(prompts.render("no_action", search_options=extra))
    over = _over_limit(action, query, round_, traj, limits)
    if over is not None:
        turn.problems.append("search_over_limit" if query or action is Action.IMAGE_SEARCH else "empty_query")
        turn.handling = f"search not run: {over}"
        return user(prompts.render("over_limit", limit_reason=over, question=question, instruction=instruction))
    found = await run.search(action, query, image, turn)
    if found is None:
        return None
    text, thumbs = format_results(found)
    return user(prompts.render("information", results=text, question=question, instruction=instruction), thumbs)


def _over_limit(action: Action, query: str, round_: int, traj: Trajectory, limits: Limits) -> str | None:
    if action is Action.IMAGE_SEARCH:
        if limits.image_search_first_round_only and round_ > 1:
            return "image search is only available in the first reply"
        if traj.image_searches >= limits.image_searches:
            return f"image search may be used at most {limits.image_searches} time(s)"
        return None
    if not query:
        return "the text search query was empty"
    if traj.text_searches >= limits.text_searches:
        return f"text search may be used at most {limits.text_searches} time(s)"
    return None
