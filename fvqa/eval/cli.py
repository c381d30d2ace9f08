"""`fvqa eval`: parse the options, build the run's parts, run, print the metrics."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fvqa.agent.loop import Mode, ProtocolName

console = Console()


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def eval_command(
    benchmark: Annotated[
        str, typer.Option(help="A benchmark name (eval/benchmarks/NAME.yaml), a suite yaml or a dataset path.")
    ],
    model: Annotated[str, typer.Option(help="The model name the endpoint serves.")],
    base_url: Annotated[str, typer.Option(help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1.")],
    out: Annotated[Path, typer.Option(help="Run folder; re-running the same command on it resumes.")],
    mode: Annotated[Mode, typer.Option(help="direct, rag (always search), or agent (the model decides).")] = Mode.AGENT,
    protocol: Annotated[
        ProtocolName, typer.Option(help="tags (<search> tags) or tools (function calling).")
    ] = ProtocolName.TAGS,
    judge: Annotated[str, typer.Option(help="rules, or a judge model name served at --judge-base-url.")] = "rules",
    judge_base_url: Annotated[str | None, typer.Option(help="The judge model's endpoint.")] = None,
    judge_template: Annotated[Path | None, typer.Option(help="Your own judge prompt template.")] = None,
    search: Annotated[str, typer.Option(help="local, web, or replay (web results from the cache only).")] = "local",
    search_index: Annotated[Path | None, typer.Option(help="Index folder for --search local.")] = None,
    search_cache: Annotated[Path | None, typer.Option(help="The search cache (SQLite) to use or replay.")] = None,
    limit: Annotated[int | None, typer.Option(help="Evaluate a seeded random subset of this size.")] = None,
    concurrency: Annotated[int, typer.Option(help="Samples in flight at once.")] = 8,
    seed: Annotated[int, typer.Option(help="Seed for subsets and bootstrap intervals.")] = 0,
    max_rounds: Annotated[int, typer.Option(help="Model turns per sample.")] = 3,
    image_searches: Annotated[int, typer.Option(help="Image searches allowed per sample.")] = 1,
    text_searches: Annotated[int, typer.Option(help="Text searches allowed per sample.")] = 2,
    prompts: Annotated[Path | None, typer.Option(help="Folder of prompt templates overriding fvqa's.")] = None,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.0,
    max_tokens: Annotated[int, typer.Option(help="Tokens per model turn.")] = 512,
    model_revision: Annotated[str | None, typer.Option(help="Model revision to record (commit, tag).")] = None,
    api_key_env: Annotated[
        str, typer.Option(help="Environment variable holding the model's API key.")
    ] = "OPENAI_API_KEY",
    judge_api_key_env: Annotated[
        str, typer.Option(help="Environment variable holding the judge's key.")
    ] = "OPENAI_API_KEY",
    search_api_key_env: Annotated[
        str, typer.Option(help="Environment variable holding the search API key.")
    ] = "SERPAPI_API_KEY",
    text_only: Annotated[bool, typer.Option(help="Caption images for a text-only model.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds per model call attempt.")] = 120.0,
    max_attempts: Annotated[int, typer.Option(help="Attempts per model call (retries on 429, 5xx, timeouts).")] = 5,
    keep_failed: Annotated[bool, typer.Option(help="On resume, keep failed samples instead of retrying them.")] = False,
) -> None:
    """Benchmark a model: the search agent on every sample, judged, with search-ratio metrics."""
    from fvqa.cli import user_errors
    from fvqa.eval.run import run_evaluation
    from fvqa.eval.setup import EvalOptions, build_parts

    options = EvalOptions(
        benchmark=benchmark,
        model=model,
        base_url=base_url,
        mode=mode,
        protocol=protocol,
        judge=judge,
        judge_base_url=judge_base_url,
        judge_template=judge_template,
        search=search,
        search_index=search_index,
        search_cache=search_cache,
        limit=limit,
        seed=seed,
        max_rounds=max_rounds,
        image_searches=image_searches,
        text_searches=text_searches,
        prompts=prompts,
        temperature=temperature,
        max_tokens=max_tokens,
        model_revision=model_revision,
        api_key_env=api_key_env,
        judge_api_key_env=judge_api_key_env,
        search_api_key_env=search_api_key_env,
        text_only=text_only,
        timeout_s=timeout,
        max_attempts=max_attempts,
        concurrency=concurrency,
    )
    command = shlex.join(["fvqa", *sys.argv[1:]])
    from fvqa.search.image_features import EncoderUnavailable

    with user_errors(EncoderUnavailable):
        parts = build_parts(options, out, command=command)
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("acc {task.fields[acc]}  searches {task.fields[searches]}  failures {task.fields[failures]}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as bar:
            task = bar.add_task(
                f"{parts.benchmark.name} / {model} / {mode}",
                total=len(parts.benchmark.samples),
                acc="-",
                searches=0,
                failures=0,
            )

            def show(p: object) -> None:
                from fvqa.eval.run import RunProgress

                assert isinstance(p, RunProgress)
                bar.update(
                    task,
                    completed=p.done + p.skipped,
                    acc=_percent(p.accuracy),
                    searches=p.searches,
                    failures=p.failures,
                )

            outcome = run_evaluation(
                parts, out, concurrency=concurrency, seed=seed, keep_failed=keep_failed, on_progress=show
            )
    print_result(outcome.result.model_dump(mode="json"), out)


def print_result(result: dict, out: Path) -> None:
    metrics, counts = result["metrics"], result["counts"]
    table = Table(
        title=f"{result['benchmark']['name']}: {result['model']['id']} ({result['protocol']['mode']})",
        show_header=False,
    )
    ci = metrics.get("accuracy_ci95") or [None, None]
    table.add_row("accuracy", f"{_percent(metrics['accuracy'])} (95% CI {_percent(ci[0])} to {_percent(ci[1])})")
    table.add_row("search ratio (samples that searched)", _percent(metrics["search_ratio"]))
    table.add_row("search call ratio (calls / allowed)", _percent(metrics["search_call_ratio"]))
    table.add_row("correct without search", _percent(metrics["correct_without_search"]))
    table.add_row("not attempted", _percent(metrics["not_attempted"]))
    table.add_row("samples / scored", f"{counts['samples']} / {counts['scored']}")
    table.add_row(
        "failures (model, tool, judge, parse)",
        f"{counts['model_errors']}, {counts['tool_errors']}, {counts['judge_errors']}, {counts['parse_errors']}",
    )
    console.print(table)
    state = "complete" if result["complete"] else "INCOMPLETE: re-run the same command to resume"
    console.print(f"{out / 'result.json'} ({state}); per-sample log: {out / 'samples.jsonl'}")
