"""Streaming jobs: a session's request round trip and requests per second, beside the bare run.

Run: .venv/bin/python bench/stream_jobs.py [--requests 200] [--felts 8] [--json]
Two libp2p hosts on 127.0.0.1 in one process: an executor serving sessions (`StreamSessions`,
one Cairo worker) and a client (`open_session`, every reply's signature, hashes and times
checked). Each request is a `stream_digest` run over `--felts` felts. The baseline is the same
run sent straight to a worker pool (no stream, no signatures, no log): the ratio is the
session's overhead. Round trips are sequential (a session answers one request at a time) and
alternate with the baseline runs; requests/s = requests / the sum of their round trips.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import trio
from libp2p.crypto.ed25519 import create_new_key_pair

from cairo_jobs.examples import compiled, example_hints
from cairo_jobs.model import RunRequest
from cairo_jobs.pool import RunnerPool
from cairo_jobs.program import load_program, program_hash
from cairo_jobs.streaming import STREAM_INPUT_BYTES, request_input
from node.config import StreamSection
from node.roles.streaming import RunLimits, Signer, StreamSessions
from node.stream_client import StreamJob, open_session
from p2p.host import (
    HostConfig,
    connect_with_backoff,
    listen_multiaddrs,
    make_host,
    p2p_addr,
    peer_info,
)
from p2p.messages import JobBody, JobHeader
from p2p.signing import KnownPublicKeys, job_hash
from p2p.stark import StarkKeyPair

CHAIN_ID = 0x534E5F5345504F4C4941
EXECUTOR = 0x4E58
WARMUP = 5


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def summary(latencies: list[float], seconds: float) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(latencies) * 1000, 2),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
            "requests_per_s": round(len(latencies) / seconds, 1)}


async def timed_pairs(count: int, first: Any, second: Any) -> list[tuple[list[float], float]]:
    """Latencies and total seconds of `count` calls of each, alternating (so that the load of
    a shared machine weighs on both alike), after a warm-up."""
    for _ in range(WARMUP):
        await first()
        await second()
    results: list[tuple[list[float], float]] = [([], 0.0), ([], 0.0)]
    for _ in range(count):
        for index, call in enumerate((first, second)):
            begin = time.perf_counter()
            await call()
            elapsed = time.perf_counter() - begin
            latencies, total = results[index]
            latencies.append(elapsed)
            results[index] = (latencies, total + elapsed)
    return results


async def measure(requests: int, felts: int, work: Path) -> dict[str, dict[str, float]]:
    program = compiled("stream_digest")
    body = JobBody(program, STREAM_INPUT_BYTES, "small")
    header = JobHeader(CHAIN_ID, 0x1234, 0xDE1E, body.body_id,
                       program_hash(load_program(program.decode())), 10**8, 10**15,
                       int(time.time()) + 3600, 1)
    request = list(range(1, felts + 1))
    account_key = StarkKeyPair.generate()
    config = HostConfig(listen_addrs=("/ip4/127.0.0.1/tcp/0",))
    executor_host, client_host = (make_host(create_new_key_pair()) for _ in range(2))
    async with executor_host.run(listen_multiaddrs(config)), \
            client_host.run(listen_multiaddrs(config)), RunnerPool(1) as pool, \
            trio.open_nursery() as nursery:
        assert await connect_with_backoff(client_host, peer_info(p2p_addr(executor_host)))
        sessions = StreamSessions(Signer(EXECUTOR, account_key, CHAIN_ID),
                                  RunLimits(pool, example_hints(), 60.0),
                                  StreamSection(max_requests=10**6), work)
        sessions.serve(executor_host)
        key = job_hash(header)
        nursery.start_soon(sessions.run_session, key, header, body, client_host.get_id())
        job = StreamJob(key, EXECUTOR, CHAIN_ID)
        checker = KnownPublicKeys({EXECUTOR: account_key.public_key})
        async with open_session(client_host, executor_host.get_id(), job, checker,
                                skew_ms=2000) as session:
            (streamed, streamed_s), (baseline, baseline_s) = await timed_pairs(
                requests, lambda: session.request(request),
                lambda: pool.run(RunRequest(program=program, program_input=request_input(request),
                                            max_steps=10**8, allowed_hints=example_hints())))
        nursery.cancel_scope.cancel()
    return {"stream": summary(streamed, streamed_s), "bare_run": summary(baseline, baseline_s)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--felts", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        figures = trio.run(measure, args.requests, args.felts, Path(work))
    stream, bare = figures["stream"], figures["bare_run"]
    figures["ratio"] = {"p50": round(stream["p50_ms"] / bare["p50_ms"], 2),
                        "requests_per_s": round(stream["requests_per_s"] / bare["requests_per_s"],
                                                2)}
    if args.json:
        print(json.dumps(figures))
        return
    print(f"{'':10} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}")
    for name in ("stream", "bare_run"):
        row = figures[name]
        print(f"{name:10} {row['p50_ms']:>8} {row['p99_ms']:>8} {row['requests_per_s']:>8}")
    print(f"stream / bare run: p50 x{figures['ratio']['p50']}, "
          f"requests/s x{figures['ratio']['requests_per_s']}")


if __name__ == "__main__":
    main()
