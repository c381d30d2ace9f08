"""Throughput and bookkeeping of fvqa's chat client against the fake OpenAI server (tests/models).

Two runs, both over real localhost HTTP through the openai SDK:

- throughput: every answer takes a fixed latency (200 ms); N requests at concurrency C. The
  ideal is C / latency requests per second (160 req/s for 32 and 200 ms); the client should
  reach at least 0.9 of it.
- failure mix: the same, but a share of attempts (10%) fails in mixed ways (429 with
  Retry-After, 500, a hang past the client's short timeout), once without retries (each
  injected failure must surface as one error of its kind) and once with 3 attempts. Every
  request must come back exactly once, as an answer carrying its own id or as a reported
  error; the attempts the client counted must equal the requests the server received.

Usage: python benchmarks/client_throughput.py [--requests 320] [--concurrency 32] [--latency 0.2]
       [--failure-rate 0.1] [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fvqa.models import ChatClient, ChatResult
from tests.models.fake_openai_server import FailureMix, FakeOpenAIServer, error, hang


async def fire(client: ChatClient, ids: list[str]) -> list[ChatResult]:
    """Send one request per id, all at once (the client bounds how many are in flight)."""
    return await asyncio.gather(*(client.complete([{"role": "user", "content": f"request-id: {i}"}]) for i in ids))


def throughput(requests: int, concurrency: int, latency_s: float) -> float:
    with FakeOpenAIServer(latency_s=latency_s) as fake:
        client = ChatClient(fake.base_url, "fake-model", concurrency=concurrency, timeout_s=10)
        client.complete_sync([{"role": "user", "content": "warm-up"}])
        ids = [uuid.uuid4().hex for _ in range(requests)]
        started = time.perf_counter()
        results = asyncio.run(fire(client, ids))
        elapsed = time.perf_counter() - started
        max_in_flight = fake.max_in_flight
    assert all(r.ok and r.text == f"echo: request-id: {i}" for r, i in zip(results, ids, strict=True))
    rate, ideal = requests / elapsed, concurrency / latency_s
    print(f"throughput: {requests} requests, concurrency {concurrency}, server latency {latency_s * 1000:.0f} ms")
    print(f"  elapsed {elapsed:.2f} s, {rate:.1f} req/s, ideal {ideal:.0f} req/s, ratio {rate / ideal:.3f}")
    print(f"  most requests in flight at the server: {max_in_flight}")
    return rate / ideal


def failure_mix(requests: int, concurrency: int, latency_s: float, rate: float, seed: int, attempts: int) -> None:
    failures = (error(429, retry_after="0.1"), error(500), hang(2.0))
    with FakeOpenAIServer(latency_s=latency_s, mix=FailureMix(rate=rate, seed=seed, failures=failures)) as fake:
        client = ChatClient(
            fake.base_url,
            "fake-model",
            concurrency=concurrency,
            timeout_s=0.5,
            max_attempts=attempts,
            backoff_base_s=0.05,
        )
        ids = [uuid.uuid4().hex for _ in range(requests)]
        started = time.perf_counter()
        results = asyncio.run(fire(client, ids))
        elapsed = time.perf_counter() - started
        received, served = fake.requests, Counter(fake.served)
    outcomes = Counter("ok" if r.error is None else str(r.error.kind) for r in results)
    answered = [r.text.removeprefix("echo: request-id: ") for r in results if r.ok and r.text]
    tries = Counter(r.attempts for r in results)
    print(
        f"failure mix: {requests} requests, {rate:.0%} of attempts failing, client timeout 0.5 s, {attempts} attempt(s)"
    )
    print(f"  elapsed {elapsed:.2f} s; server received {received} requests and served {dict(sorted(served.items()))}")
    print(f"  outcomes: {dict(sorted(outcomes.items()))}; attempts per request: {dict(sorted(tries.items()))}")
    assert len(results) == requests and sum(outcomes.values()) == requests, "a request was lost"
    assert len(answered) == len(set(answered)), "a request id was answered twice"
    assert all(r.text == f"echo: request-id: {i}" for r, i in zip(results, ids, strict=True) if r.ok), "wrong answer"
    assert sum(r.attempts for r in results) == received, "client and server disagree on the number of attempts"
    if attempts == 1:  # every injected failure must surface as exactly one error of its kind
        expected = {"rate_limited": served["429"], "server_error": served["500"], "timeout": served["hang"]}
        assert {kind: outcomes[kind] for kind in expected} == expected, "an error was hidden or misclassified"
        assert outcomes["ok"] == served["ok"]
    print(f"  accounted for: {sum(outcomes.values())}/{requests}; unique ids answered: {len(set(answered))}; none lost")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=320)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--failure-rate", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    ratio = throughput(args.requests, args.concurrency, args.latency)
    for attempts in (1, 3):  # first every failure surfaces, then retries absorb them
        failure_mix(args.requests, args.concurrency, args.latency, args.failure_rate, args.seed, attempts)
    print(f"throughput ratio {ratio:.3f} (target >= 0.9): {'PASS' if ratio >= 0.9 else 'BELOW TARGET'}")


if __name__ == "__main__":
    main()
