"""Build a run's parts (benchmark, model, search tools, judge, agent) from the user's options.

The command line fills an `EvalOptions`; library users may too. Keys never pass through
here: each endpoint reads its key from the environment variable the options name.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fvqa.agent.loop import AgentConfig, Generation, Limits, Mode, ProtocolName, Searches
from fvqa.agent.prompts import PromptSet
from fvqa.cache import Cache, CacheMode, user_cache_dir
from fvqa.eval.judge import Judge, endpoint_host
from fvqa.eval.run import EvalParts
from fvqa.models import ChatClient, LabelCaptioner, TextOnlyBridge
from fvqa.search.tools import ImageSearchTool, TextSearchTool


@dataclass
class EvalOptions:
    benchmark: str
    model: str
    base_url: str
    mode: Mode = Mode.AGENT
    protocol: ProtocolName = ProtocolName.TAGS
    judge: str = "rules"
    """"rules", or the name of a judge model served at `judge_base_url`."""
    judge_base_url: str | None = None
    judge_template: Path | None = None
    search: str = "local"
    """local (an index built by `fvqa search index`), web (provider APIs), or replay (web, from the cache only)."""
    search_index: Path | None = None
    search_cache: Path | None = None
    limit: int | None = None
    seed: int = 0
    max_rounds: int = 3
    image_searches: int = 1
    text_searches: int = 2
    prompts: Path | None = None
    temperature: float = 0.0
    max_tokens: int = 512
    model_revision: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    judge_api_key_env: str = "OPENAI_API_KEY"
    search_api_key_env: str = "SERPAPI_API_KEY"
    text_only: bool = False
    """Send images to the model as captions (for text-only models such as the embedded one)."""
    timeout_s: float = 120.0
    max_attempts: int = 5
    concurrency: int = 8
    judge_cache: Path | None = None


def default_search_cache() -> Path:
    return user_cache_dir() / "search_cache.sqlite"


def build_searches(options: EvalOptions, benchmark: Any) -> tuple[Searches, dict[str, Any], Callable[[], str | None]]:
    """The two search tools, what result.json should say about them, and the cache hash."""
    kind = options.search
    if kind == "local":
        from fvqa.search.local import LocalImageSearch, LocalTextSearch

        if options.search_index is None:
            raise ValueError("--search local needs --search-index (a folder built by `fvqa search index`)")
        image_backend: Any = LocalImageSearch(options.search_index)
        text_backend: Any = LocalTextSearch(options.search_index)
        cache = Cache(options.search_cache, CacheMode.READ_WRITE) if options.search_cache else Cache(None, "off")
    elif kind in ("web", "replay"):
        from fvqa.search.web import SerpApiClient, SerpApiImageSearch, SerpApiTextSearch, image_urls_from_samples

        api = SerpApiClient(key_env=options.search_api_key_env)
        image_backend = SerpApiImageSearch(image_urls_from_samples(benchmark.samples), api=api)
        text_backend = SerpApiTextSearch(api=api)
        path = options.search_cache or default_search_cache()
        cache = Cache(path, CacheMode.REPLAY if kind == "replay" else CacheMode.READ_WRITE)
    else:
        raise ValueError(f"--search must be local, web or replay, not {kind!r}")
    image_tool, text_tool = ImageSearchTool(image_backend, cache), TextSearchTool(text_backend, cache)
    info = {
        "backend": kind,
        "mode": str(cache.mode),
        "image": {"name": image_backend.name, **image_backend.params()},
        "text": {"name": text_backend.name, **text_backend.params()},
        "cache_path": None if cache.path is None else str(cache.path),
    }
    return Searches(image=image_tool, text=text_tool), info, cache.content_hash


def build_model(options: EvalOptions, searches: Searches) -> tuple[Any, dict[str, Any]]:
    client = ChatClient(
        options.base_url,
        options.model,
        api_key_env=options.api_key_env,
        timeout_s=options.timeout_s,
        max_attempts=options.max_attempts,
        concurrency=options.concurrency,
    )
    info: dict[str, Any] = {
        "id": options.model,
        "revision": options.model_revision or "unspecified",
        "base_url_host": endpoint_host(options.base_url),
        "generation": {"temperature": options.temperature, "max_tokens": options.max_tokens, "seed": options.seed},
        "text_only_bridge": None,
    }
    if not options.text_only:
        return client, info
    from fvqa.search.image_features import classify, load_encoder

    bridge = TextOnlyBridge(client, LabelCaptioner(classify))
    searches.on_image_results = lambda sha, result: bridge.remember_titles(sha, [p.title for p in result.pages])
    info["text_only_bridge"] = {"captioner": "imagenet labels from " + type(load_encoder()).__name__}
    return bridge, info


def build_judge(options: EvalOptions, out: Path) -> Judge:
    if options.judge == "rules":
        return Judge.rules_only()
    if not options.judge_base_url:
        raise ValueError("an LLM judge needs --judge-base-url (its OpenAI-compatible endpoint)")
    cache = Cache(options.judge_cache or out / "judge_cache.sqlite", CacheMode.READ_WRITE)
    client = ChatClient(
        options.judge_base_url,
        options.judge,
        api_key_env=options.judge_api_key_env,
        timeout_s=options.timeout_s,
        max_attempts=options.max_attempts,
        concurrency=options.concurrency,
        cache=cache,
    )
    return Judge.with_llm(client, template_path=options.judge_template)


def build_parts(options: EvalOptions, out: Path, command: str | None = None) -> EvalParts:
    """Everything `run_evaluation` needs; raises ValueError/FileNotFoundError with a clear message."""
    from fvqa.eval.benchmarks import load_benchmark

    benchmark = load_benchmark(options.benchmark, limit=options.limit, seed=options.seed)
    searches, search_info, cache_hash = build_searches(options, benchmark)
    model, model_info = build_model(options, searches)
    agent = AgentConfig(
        mode=options.mode,
        protocol=options.protocol,
        limits=Limits(options.max_rounds, options.image_searches, options.text_searches),
        generation=Generation(options.temperature, options.max_tokens, None),
        prompts=PromptSet.load(options.prompts),
    )
    if options.api_key_env not in os.environ:
        model_info["api_key"] = f"none set (${options.api_key_env} is empty)"
    return EvalParts(
        benchmark=benchmark,
        model=model,
        searches=searches,
        judge=build_judge(options, out),
        agent=agent,
        model_info=model_info,
        search_info=search_info,
        cache_hash=cache_hash,
        command=command,
    )
