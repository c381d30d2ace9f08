"""Figures of the evaluation harness (fvqa/eval), each against a baseline from the same run.

1. overhead: harness time per sample beyond model and tool latency, against a zero-latency
   local (fake) OpenAI server and instant search functions (target under 2 ms);
2. memory: peak RSS of a run of N samples and of 10 x N samples, in fresh processes (target:
   flat, the ratio near 1);
3. resume: a finished run re-invoked: seconds, and model requests made (targets: < 5 s, 0);
4. failures: a server failing 10% of calls in mixed ways (429, 500, malformed JSON, cut
   bodies, hangs): every sample ends with a status and the counts add up.

The fake server and the scripted agent model come from tests/ (tests/models/fake_openai_server.py,
tests/eval/scripted_agent.py). Usage: python benchmarks/eval_harness.py [--samples 2000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fvqa.eval.run import run_evaluation  # noqa: E402
from tests.eval.scripted_agent import policy, scripted_parts  # noqa: E402
from tests.models.fake_openai_server import FailureMix, FakeOpenAIServer, error, hang, malformed, truncated  # noqa: E402

SERVER = """
import sys, time
sys.path.insert(0, {root!r})
from tests.eval.scripted_agent import policy
from tests.models.fake_openai_server import FakeOpenAIServer
with FakeOpenAIServer(responder=policy, keep_bodies=False) as fake:
    print(fake.base_url, flush=True)
    time.sleep(3600)
"""

MEMORY_PROBE = """
import json, resource, sys
sys.path.insert(0, {root!r})
from fvqa.eval.run import run_evaluation
from tests.eval.scripted_agent import scripted_parts
def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
parts = scripted_parts({url!r}, {n}, concurrency=8)
marks = {{"loaded": rss()}}
def progress(p):
    if p.done % ({n} // 4) == 0:
        marks[f"{{100 * p.done // {n}}}%"] = rss()
run_evaluation(parts, {out!r}, concurrency=8, on_progress=progress)
marks["end"] = rss()
print(json.dumps(marks))
"""


def overhead(samples: int, out: Path) -> None:
    with FakeOpenAIServer(responder=policy) as fake:
        started = time.perf_counter()
        run_evaluation(scripted_parts(fake.base_url, samples, concurrency=1), out, concurrency=1)
        wall = time.perf_counter() - started
    model = tools = 0.0
    for line in (out / "samples.jsonl").read_text().splitlines():
        for turn in json.loads(line)["trajectory"]:
            model += turn["latency_s"]
            tools += (turn["tool_call"] or {}).get("elapsed_s", 0.0)
    per_sample = (wall - model - tools) / samples
    print(
        f"overhead: {samples} samples one at a time in {wall:.2f} s; model calls {model:.2f} s, "
        f"searches {tools:.3f} s (zero-latency fake server)"
    )
    print(
        f"  harness overhead per sample: {per_sample * 1000:.2f} ms (target < 2 ms); "
        f"model call latency per sample: {model / samples * 1000:.2f} ms (the baseline)"
    )


def memory(samples: int, tmp: Path) -> None:
    """Each run in a fresh process, the fake server in another one (its threads are not the harness's)."""
    peaks = {}
    server = subprocess.Popen([sys.executable, "-c", SERVER.format(root=str(ROOT))], stdout=subprocess.PIPE, text=True)
    url = server.stdout.readline().strip() if server.stdout else ""
    try:
        for n in (samples, samples * 10):
            code = MEMORY_PROBE.format(root=str(ROOT), url=url, n=n, out=str(tmp / f"memory-{n}"))
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
            marks = json.loads(done.stdout.strip().splitlines()[-1])
            peaks[n] = marks["end"] - marks["25%"]
            shown = ", ".join(f"{k} {v:.0f}" for k, v in marks.items())
            print(f"memory: {n} samples, peak RSS in MB at each point: {shown} ({time.perf_counter() - started:.0f} s)")
    finally:
        server.kill()
    small, large = samples, samples * 10
    print(
        f"  growth from 25% of the samples to the end (metrics included): {peaks[small]:.0f} MB over "
        f"{small * 3 // 4} samples, {peaks[large]:.0f} MB over {large * 3 // 4} samples (flat: near 0)"
    )


def resume(samples: int, tmp: Path) -> None:
    out = tmp / f"memory-{samples * 10}"
    with FakeOpenAIServer(responder=policy, keep_bodies=False) as fake:
        started = time.perf_counter()
        parts = scripted_parts(fake.base_url, samples * 10, concurrency=8)
        loaded = time.perf_counter()
        again = run_evaluation(parts, out, concurrency=8)
        seconds = time.perf_counter() - started
        harness = seconds - (loaded - started)
        print(f"resume: benchmark loaded in {loaded - started:.2f} s, the harness took {harness:.2f} s")
        requests = fake.requests
    print(
        f"resume: the finished {samples * 10}-sample run re-invoked in {seconds:.2f} s (target < 5 s), "
        f"{requests} model requests (target 0), {again.ran} samples run"
    )


def failures(samples: int, out: Path) -> None:
    mix = FailureMix(
        rate=0.10, seed=7, failures=(error(429, retry_after="0"), error(500), malformed(), truncated(), hang(2))
    )
    with FakeOpenAIServer(responder=policy, mix=mix) as fake:
        outcome = run_evaluation(
            scripted_parts(fake.base_url, samples, max_attempts=3, timeout_s=0.3), out, concurrency=8
        )
        served = dict(fake.served)
    counts = outcome.result.counts
    lines = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    statuses: dict[str, int] = {}
    for line in lines:
        statuses[line["status"]] = statuses.get(line["status"], 0) + 1
    total = sum(counts[k] for k in ("ok", "parse_errors", "model_errors", "tool_errors", "judge_errors"))
    ids = [line["id"] for line in lines]
    print(f"failures: {samples} samples, server behaviours {served}")
    print(
        f"  statuses {statuses}; counts add up: {total} == {counts['samples']} == {samples}: "
        f"{total == counts['samples'] == samples}; lines {len(lines)}, unique ids {len(set(ids))}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        overhead(min(args.samples, 500), tmp / "overhead")
        memory(args.samples, tmp)
        resume(args.samples, tmp)
        failures(min(args.samples, 1000), tmp / "failures")
    print(f"(this process: peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
