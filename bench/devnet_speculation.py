"""In process: a pre-signed transfer through `Chain.add` with `__validate__` on the worker process
(speculative `__execute__` beside it) against the serial chain, alternating in chunks.

    .venv/bin/python bench/devnet_speculation.py [--n 40] [--chunks 4]

Prints the median wall ms of `Chain.add` for both chains and their ratio, the CPU ms per
transfer of this process (serial: everything; speculating: all but `__validate__`) and of the
worker, and the speculation counters (all should be "accepted" after the first of each shape).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from devnet_execution import signed_transfer
from devnet_invokes import cpu_seconds

from devnet.chain import FEE_TOKEN_ADDRESS, Chain, DevnetConfig
from devnet.cli import settle_memory
from devnet.speculation import ValidateWorker
from devnet.stages import TIMES

START_TIMEOUT_S = 120


def timed_adds(chain: Chain, n: int, first_nonce: int) -> tuple[list[float], float]:
    """Wall ms of each of n transfers (signed beforehand), and this process's CPU seconds for
    them."""
    txs = [signed_transfer(chain, nonce) for nonce in range(first_nonce, first_nonce + n)]
    wall = []
    cpu = time.process_time()
    for tx in txs:
        started = time.perf_counter()
        chain.add(tx)
        wall.append((time.perf_counter() - started) * 1000)
    return wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=40, help="transfers per chain")
    parser.add_argument("--chunks", type=int, default=4, help="alternations")
    args = parser.parse_args()
    chains = {name: Chain(DevnetConfig(accounts=1)) for name in ("serial", "speculating")}
    for chain in chains.values():
        chain.create_genesis()
    worker = ValidateWorker(chains["speculating"].state, DevnetConfig().chain_id,
                            FEE_TOKEN_ADDRESS)
    chains["speculating"].speculate_with(worker)
    settle_memory()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not worker.ready():
        assert time.monotonic() < deadline, "the validate worker did not start"
        time.sleep(0.05)
    for chain in chains.values():  # warm up: caches, the gas guess
        timed_adds(chain, 2, 0)
    TIMES.take()
    wall: dict[str, list[float]] = {name: [] for name in chains}
    cpu = dict.fromkeys(chains, 0.0)
    worker_cpu = 0.0
    size = args.n // args.chunks
    for chunk in range(args.chunks):
        for name, chain in chains.items():
            assert worker.pid is not None
            before = cpu_seconds(worker.pid)
            samples, seconds = timed_adds(chain, size, 2 + chunk * size)
            wall[name] += samples
            cpu[name] += seconds
            if name == "speculating":
                worker_cpu += cpu_seconds(worker.pid) - before
    n = size * args.chunks
    for name in chains:
        print(f"{name:12} Chain.add p50 {statistics.median(wall[name]):6.1f} ms  "
              f"mean {statistics.mean(wall[name]):6.1f} ms  "
              f"CPU here {cpu[name] * 1000 / n:6.1f} ms", flush=True)
    print(f"{'worker':12} CPU {worker_cpu * 1000 / n:6.1f} ms per transfer")
    ratio = statistics.median(wall["serial"]) / statistics.median(wall["speculating"])
    print(f"ratio serial / speculating p50 x{ratio:.2f}  (load {os.getloadavg()[0]:.1f})")
    counters = {k: v["count"] for k, v in TIMES.take().items() if k.startswith("speculation")}
    print("speculations:", counters)
    worker.stop()


if __name__ == "__main__":
    main()
