"""Run an evaluation: every sample through the agent and the judge, logged as it finishes.

The run folder holds `run.json` (the settings that determine the results, checked again on
resume), `samples.jsonl` (see `fvqa.eval.logfile`) and, once every sample has a final line,
`result.json`. Re-running the same command on the same folder resumes: samples that already
have a scored line are skipped; failed ones (model, tool or judge errors) are tried again
unless `keep_failed`. Memory stays flat: samples stream from the benchmark, a fixed number
of workers run them, and finished logs live on disk, not in memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fvqa.agent.loop import AgentConfig, ChatModel, Searches, run_agent
from fvqa.agent.trajectory import Outcome
from fvqa.eval.judge import Judge
from fvqa.eval.logfile import LogEntry, SampleLogFile, dump_json_atomic
from fvqa.eval.metrics import LogSummary, compute_metrics
from fvqa.eval.provenance import code_provenance
from fvqa.eval.records import RunResult, SampleLog, Status, Verdict
from fvqa.schema import Sample

_LOG = logging.getLogger(__name__)
_FAILED = {Outcome.MODEL_ERROR: Status.MODEL_ERROR, Outcome.TOOL_ERROR: Status.TOOL_ERROR}


@dataclass
class EvalParts:
    """Everything a run needs, built by `fvqa.eval.setup` (or by a caller of the library)."""

    benchmark: Any
    """A `fvqa.eval.benchmarks.Benchmark`: name, samples, data_hash, subset_rule, source, skipped."""
    model: ChatModel
    searches: Searches
    judge: Judge
    agent: AgentConfig
    model_info: dict[str, Any]
    search_info: dict[str, Any]
    cache_hash: Callable[[], str | None] = lambda: None
    command: str | None = None


@dataclass
class RunProgress:
    """Running totals for a progress display."""

    total: int
    done: int = 0
    skipped: int = 0
    scored: int = 0
    correct: int = 0
    searches: int = 0
    failures: int = 0

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.scored if self.scored else None


@dataclass
class RunOutcome:
    result: RunResult
    out: Path
    ran: int
    """Samples run in this invocation (0 when everything was already done)."""
    progress: RunProgress = field(repr=False, default_factory=lambda: RunProgress(0))


def run_spec(parts: EvalParts, seed: int) -> dict[str, Any]:
    """The settings that determine a run's results: a resumed run must have the same.

    Endpoint addresses are left out (a local server gets a new port every time it starts).
    """
    return {
        "benchmark": {"name": parts.benchmark.name, "data_hash": parts.benchmark.data_hash},
        "model": {
            k: v for k, v in parts.model_info.items() if k in ("id", "revision", "generation", "text_only_bridge")
        },
        "protocol": protocol_info(parts.agent),
        "search": {k: v for k, v in parts.search_info.items() if k in ("backend", "image", "text", "mode")},
        "judge": {k: v for k, v in parts.judge.describe().items() if k != "base_url_host"},
        "seed": seed,
    }


def protocol_info(agent: AgentConfig) -> dict[str, Any]:
    return {
        "mode": str(agent.mode),
        "protocol": str(agent.protocol),
        "limits": agent.limits.describe(),
        **agent.prompts.describe(),
    }


def _check_spec(out: Path, spec: dict[str, Any]) -> str:
    """Record the spec of a new run, or check a resumed run's; returns when the run started."""
    path = out / "run.json"
    if path.exists():
        import json

        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved.get("spec") != spec:
            changed = sorted(k for k in spec if saved.get("spec", {}).get(k) != spec[k])
            raise ValueError(
                f"{out} holds a run with different settings ({', '.join(changed)} differ); "
                "resume it with the same command, or choose another --out"
            )
        return str(saved["started"])
    started = datetime.now(UTC).isoformat(timespec="seconds")
    dump_json_atomic(path, {"spec": spec, "started": started})
    return started


async def evaluate_sample(sample: Sample, parts: EvalParts, attempt: int) -> SampleLog:
    """One sample through the agent and the judge; failures become statuses, never exceptions."""
    started = time.perf_counter()
    base: dict[str, Any] = {
        "id": sample.id,
        "category": None if sample.category is None else str(sample.category),
        "subcategory": sample.subcategory,
        "search_label": str(sample.search_label),
        "question": sample.question,
        "answers": sample.answers,
        "attempt": attempt,
    }
    try:
        traj = await run_agent(sample.question, sample.image, parts.model, parts.searches, parts.agent)
        base.update(
            trajectory=traj.turns,
            answer=traj.answer,
            image_searches=traj.image_searches,
            text_searches=traj.text_searches,
            search_failures=traj.search_failures,
            error=traj.error,
        )
        if traj.outcome in _FAILED:
            base["status"] = _FAILED[traj.outcome]
        elif traj.outcome is Outcome.PARSE_ERROR:
            base.update(status=Status.PARSE_ERROR, verdict=Verdict.INCORRECT)
        else:
            judged = await parts.judge.judge(sample.question, sample.answers, traj.answer)
            base.update(
                status=Status.OK if judged.ok else Status.JUDGE_ERROR,
                verdict=judged.verdict,
                judge_stage=judged.stage,
                judge_explanation=judged.explanation,
                rules_verdict=judged.rules_verdict,
            )
            if not judged.ok:
                base["error"] = f"judge: {judged.error}"
    except Exception as err:  # a bug must cost one sample, not the run: record it and go on
        _LOG.error("sample %s failed inside fvqa:\n%s", sample.id, traceback.format_exc())
        base.update(status=Status.MODEL_ERROR, error=f"internal error: {type(err).__name__}: {err}")
    base["elapsed_s"] = round(time.perf_counter() - started, 6)
    return SampleLog.model_validate(base)


def _todo(
    samples: Iterator[Sample], entries: dict[str, LogEntry], keep_failed: bool, progress: RunProgress
) -> Iterator[tuple[Sample, int]]:
    for sample in samples:
        entry = entries.get(sample.id)
        if entry is not None and (entry.status.scored or keep_failed):
            progress.skipped += 1
            continue
        yield sample, 1 if entry is None else entry.attempt + 1


async def _run_all(
    work: Iterator[tuple[Sample, int]],
    parts: EvalParts,
    logfile: SampleLogFile,
    concurrency: int,
    progress: RunProgress,
    on_progress: Callable[[RunProgress], None] | None,
) -> int:
    ran = 0

    async def worker() -> None:
        nonlocal ran
        for sample, attempt in work:  # a shared iterator: each sample goes to one worker
            log = await evaluate_sample(sample, parts, attempt)
            logfile.append(log)
            ran += 1
            progress.done += 1
            progress.searches += log.image_searches + log.text_searches
            progress.failures += log.status is not Status.OK
            if log.status.scored:
                progress.scored += 1
                progress.correct += log.verdict is Verdict.CORRECT
            if on_progress is not None:
                on_progress(progress)

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    return ran


def run_evaluation(
    parts: EvalParts,
    out: str | Path,
    *,
    concurrency: int = 8,
    seed: int = 0,
    keep_failed: bool = False,
    on_progress: Callable[[RunProgress], None] | None = None,
) -> RunOutcome:
    """Run (or resume) an evaluation into `out` and write its result.json."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = _check_spec(out, run_spec(parts, seed))
    logfile = SampleLogFile(out / "samples.jsonl")
    entries = logfile.scan()
    order = [s.id for s in parts.benchmark.samples]
    progress = RunProgress(total=len(order))
    work = _todo(iter(parts.benchmark.samples), entries, keep_failed, progress)
    ran = asyncio.run(_run_all(work, parts, logfile, concurrency, progress, on_progress))
    logfile.compact(order)
    entries = logfile.scan()
    limits = parts.agent.limits
    metrics, counts = compute_metrics(
        (LogSummary.of(log) for log in logfile.iter_latest(order, entries)),
        max_image_searches=limits.image_searches,
        max_text_searches=limits.text_searches,
        seed=seed,
        llm_judge=parts.judge.kind != "rules",
    )
    benchmark = parts.benchmark
    result = RunResult(
        complete=counts["samples"] == len(order),
        metrics=metrics,
        counts=counts,
        benchmark={
            "name": benchmark.name,
            "data_hash": benchmark.data_hash,
            "subset_rule": benchmark.subset_rule,
            "source": benchmark.source,
            "samples": len(order),
            "skipped_rows": len(benchmark.skipped),
        },
        model=parts.model_info,
        protocol=protocol_info(parts.agent),
        search={**parts.search_info, "cache_hash": parts.cache_hash()},
        judge=parts.judge.describe(),
        provenance={
            **code_provenance(),
            "seed": seed,
            "command": parts.command,
            "started": started,
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )
    dump_json_atomic(out / "result.json", result.model_dump(mode="json"))
    return RunOutcome(result=result, out=out, ran=ran, progress=progress)
