"""Benchmark of the Cairo runner: steps/s of one worker vs the pool, and proof-mode overhead.

Runs the long_loop example. The baseline (one worker) is measured in the same run as the pool,
so the ratio holds on whatever machine this runs on. "busy" is the workers' CPU time over
wall time x workers: below 1.0 the machine's other load, not the pool, held the workers back.
"machine_speedup" is the same ratio for bare CPU-bound processes, measured alongside: the
ceiling on this machine at that moment; "pool_vs_machine" is the pool's share of it.
Usage:
    .venv/bin/python bench/cairo_runner.py [--jobs 6] [--n 2000] [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from dataclasses import dataclass

import trio

from cairo_jobs.examples import compiled
from cairo_jobs.runner import RunnerPool, RunRequest, RunResult

POOL_GOAL = 1.8


def request(n: int, proof_mode: bool = False) -> RunRequest:
    return RunRequest(
        program=compiled("long_loop"),
        program_input={"n": n, "x": 3},
        max_steps=100 * n + 1000,
        proof_mode=proof_mode,
        timeout=600,
    )


@dataclass
class Throughput:
    steps_per_s: float  # Total steps / wall time.
    busy: float  # Worker CPU seconds / (wall time * workers): 1.0 when every worker ran flat out.
    steps_per_run: int


async def throughput(pool: RunnerPool, jobs: int, n: int) -> Throughput:
    """Runs `jobs` identical runs submitted at once and measures the pool's throughput."""
    results: list[RunResult] = []

    async def one() -> None:
        results.append(await pool.run(request(n)))

    started = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(jobs):
            nursery.start_soon(one)
    elapsed = time.perf_counter() - started
    return Throughput(
        steps_per_s=sum(r.steps for r in results) / elapsed,
        busy=sum(r.timings.cpu for r in results) / (elapsed * pool.workers),
        steps_per_run=results[0].steps,
    )


async def machine_speedup(workers: int, iterations: int = 20_000_000) -> float:
    """Speed-up of `workers` bare CPU-bound processes over one: this machine's ceiling now."""
    spin = [sys.executable, "-c", f"for _ in range({iterations}): pass"]

    async def wall(copies: int) -> float:
        started = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for _ in range(copies):
                nursery.start_soon(trio.run_process, spin)
        return time.perf_counter() - started

    return workers * await wall(1) / await wall(workers)


async def proof_overhead(pool: RunnerPool, n: int) -> tuple[float, float, int]:
    """Wall seconds of one run in plain and in proof mode, and the padded trace length."""
    started = time.perf_counter()
    await pool.run(request(n))
    plain = time.perf_counter() - started
    started = time.perf_counter()
    proved = await pool.run(request(n, proof_mode=True))
    proof = time.perf_counter() - started
    assert proved.artifacts is not None
    shutil.rmtree(proved.artifacts.trace.parent)
    return plain, proof, proved.trace_steps


async def main(args: argparse.Namespace) -> dict:
    one, many, plain, proof, machine = [], [], [], [], []
    async with RunnerPool(workers=1) as single, RunnerPool(workers=args.workers) as pool:
        # Warm each worker's program cache, so that both sides measure runs only.
        await throughput(single, 1, 10)
        await throughput(pool, args.workers, 10)
        for _ in range(args.repeats):
            one.append(await throughput(single, args.jobs, args.n))
            many.append(await throughput(pool, args.jobs, args.n))
            machine.append(await machine_speedup(args.workers))
            plain_s, proof_s, trace_steps = await proof_overhead(single, args.n)
            plain.append(plain_s)
            proof.append(proof_s)
    one_median = statistics.median(t.steps_per_s for t in one)
    pool_median = statistics.median(t.steps_per_s for t in many)
    return {
        "steps_per_run": one[0].steps_per_run,
        "one_worker_steps_per_s": round(one_median),
        "one_worker_busy": round(statistics.median(t.busy for t in one), 2),
        "pool_workers": args.workers,
        "pool_steps_per_s": round(pool_median),
        "pool_busy": round(statistics.median(t.busy for t in many), 2),
        "pool_speedup": round(pool_median / one_median, 2),
        "pool_goal_met": pool_median / one_median >= POOL_GOAL,
        "machine_speedup": round(statistics.median(machine), 2),
        "pool_vs_machine": round(pool_median / one_median / statistics.median(machine), 2),
        "plain_run_s": round(statistics.median(plain), 3),
        "proof_run_s": round(statistics.median(proof), 3),
        "proof_overhead": round(statistics.median(proof) / statistics.median(plain), 2),
        "proof_trace_steps": trace_steps,
        "load_average_1m": os.getloadavg()[0],
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=6, help="runs per measurement")
    parser.add_argument("--n", type=int, default=2000, help="long_loop iterations per run")
    parser.add_argument("--repeats", type=int, default=3, help="measurements (median taken)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="pool size")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    arguments = parser.parse_args()
    figures = trio.run(main, arguments)
    if arguments.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>24}: {value}")
