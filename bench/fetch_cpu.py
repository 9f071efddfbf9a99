"""CPU and wall time of a direct fetch over one open connection (the transfer of a by-key get).

Two hosts in one process, connected over TCP on 127.0.0.1; the first serves one value of
`--size` bytes (p2p.fetch), the second fetches it `--fetches` times in a row. Prints the
median process CPU (both ends) and wall time per fetch. --baseline-ref REV measures commit
REV's p2p package the same way (bench/baseline.py), alternating `--runs` times, and prints
the medians over all fetches and the ratio base / now.

    .venv/bin/python bench/fetch_cpu.py --size 1048576 --fetches 150 --baseline-ref main --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

TREE = Path(__file__).resolve().parent.parent


async def measure(size: int, fetches: int) -> dict:
    """CPU and wall ms of each of `fetches` fetches of one `size`-byte value."""
    import trio

    from p2p import fetch, params
    from p2p.records import record_key
    from tests.p2p.nodes import connect, running_hosts

    value = os.urandom(size)
    key = record_key(params.NS_BODY, value)
    cpu_ms, wall_ms = [], []
    async with running_hosts(2) as (server, client):
        fetch.serve(server, {key: value}.get)
        await connect(client, server)
        await trio.sleep(1.0)  # identify and the rest of the new connection's work done
        for _ in range(fetches):
            wall, cpu = time.perf_counter(), time.process_time()
            assert await fetch.fetch(client, server.get_id(), key) == value
            cpu_ms.append(1000 * (time.process_time() - cpu))
            wall_ms.append(1000 * (time.perf_counter() - wall))
    return {"cpu_ms": cpu_ms, "wall_ms": wall_ms}


def run_tree(root: Path, args: argparse.Namespace) -> dict:
    """One measure in a process on `root`'s packages."""
    command = [sys.executable, __file__, "--child", "--size", str(args.size)]
    command += ["--fetches", str(args.fetches)]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=600, cwd=root, env=env
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(runs: dict[str, list[dict]]) -> None:
    """Median CPU and wall time per fetch per tree, and the ratio base / now."""
    medians = {}
    for label, rs in runs.items():
        medians[label] = statistics.median(c for r in rs for c in r["cpu_ms"])
        wall = statistics.median(w for r in rs for w in r["wall_ms"])
        spread = [round(statistics.median(r["cpu_ms"]), 1) for r in rs]
        print(
            f"{label:>5}: {medians[label]:6.2f} ms CPU, {wall:6.2f} ms wall per fetch "
            f"(run CPU medians {spread})"
        )
    if "base" in medians:
        print(f"ratio base / now (CPU): {medians['base'] / medians['now']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024 * 1024)
    parser.add_argument("--fetches", type=int, default=150)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--baseline-ref", help="also measure this commit's p2p, alternating")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import trio

        print(json.dumps(trio.run(measure, args.size, args.fetches)))
        return
    sys.path.insert(0, str(Path(__file__).parent))
    from baseline import alternate

    report(alternate(args.baseline_ref, args.runs, lambda root: run_tree(root or TREE, args)))


if __name__ == "__main__":
    main()
