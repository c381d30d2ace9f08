"""A scripted "agent model" for harness tests and benchmarks, served by the fake OpenAI server.

`policy` decides every reply from the request alone (the question and how many turns came
before), so a resumed run gets exactly the replies an uninterrupted one would. Samples n
with n % 3 == 0 ask for an image search first, n % 3 == 1 a text search, n % 3 == 2 answer at
once; even n answer right ("thing n"), odd n wrong; n % 7 == 5 reply with no tags at all.
Also: a tiny synthetic benchmark and deterministic search functions (no index needed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fvqa.agent.loop import AgentConfig, Limits, Searches
from fvqa.eval.judge import Judge
from fvqa.eval.run import EvalParts
from fvqa.models import ChatClient
from fvqa.schema import Sample, new_sample
from fvqa.search.types import SearchResult, WebPage
from tests.conftest import image_bytes

_NUMBER = re.compile(r"picture (\d+)")


def _text(message: dict[str, Any]) -> str:
    content = message.get("content") or ""
    if isinstance(content, str):
        return content
    return " ".join(part.get("text", "") for part in content if part.get("type") == "text")


def policy(body: dict[str, Any]) -> str:
    messages = body.get("messages") or []
    found = _NUMBER.search(_text(messages[0])) if messages else None
    n = int(found.group(1)) if found else 0
    turn = sum(1 for m in messages if m.get("role") == "assistant") + 1
    answer = f"thing {n}" if n % 2 == 0 else f"something else {n}"
    if n % 7 == 5:
        return f"I believe it is {answer}."  # no tags: the harness must cope
    if turn == 1 and n % 3 == 0:
        return "<reason>I should look this picture up.</reason><search><img></search>"
    if turn == 1 and n % 3 == 1:
        return f"<reason>Let me search.</reason><text_search>picture {n}</text_search>"
    return f"<reason>I know this.</reason><answer>{answer}</answer>"


def image_search(image: bytes) -> SearchResult:
    page = WebPage("A page about a picture", "https://pictures.example/p", thumbnail=image_bytes(99, (24, 24)))
    return SearchResult("image_search", "sha", "scripted", pages=(page,))


def text_search(query: str) -> SearchResult:
    page = WebPage(f"About {query}", "https://pictures.example/t", summary=f"This page is about {query}.")
    return SearchResult("text_search", query, "scripted", pages=(page,))


@dataclass
class SyntheticBenchmark:
    name: str
    samples: list[Sample]
    data_hash: str = "sha256:synthetic"
    subset_rule: str = "all"
    source: str = "tests"
    skipped: list[tuple[str, str]] = field(default_factory=list)


def synthetic_benchmark(n: int, *, image: bytes | None = None) -> SyntheticBenchmark:
    picture = image or image_bytes(1)
    samples = [
        new_sample(
            source="synthetic",
            source_id=f"s{i}",
            split="test",
            question=f"What is in picture {i}?",
            answer=f"thing {i}",
            image=picture,
            category=["Nature", "Place", "People"][i % 3],
        )
        for i in range(n)
    ]
    return SyntheticBenchmark(name=f"synthetic-{n}", samples=samples, data_hash=f"sha256:synthetic-{n}")


def scripted_parts(
    base_url: str, n: int, *, concurrency: int = 4, max_attempts: int = 3, timeout_s: float = 5.0
) -> EvalParts:
    client = ChatClient(
        base_url,
        "scripted-agent",
        timeout_s=timeout_s,
        max_attempts=max_attempts,
        concurrency=concurrency,
        backoff_base_s=0.01,
        backoff_max_s=0.05,
    )
    return EvalParts(
        benchmark=synthetic_benchmark(n),
        model=client,
        searches=Searches(image=image_search, text=text_search),
        judge=Judge.rules_only(),
        agent=AgentConfig(limits=Limits()),
        model_info={"id": "scripted-agent", "revision": "1", "base_url_host": "127.0.0.1", "generation": {}},
        search_info={"backend": "scripted"},
    )
