"""DHT put/get latency across node processes: ours beside py-libp2p's KadDHT defaults.

Nodes 0..N-1 form a line. Node 0 puts values of each size; then a node that joins afterwards
and connects only to the far end of the line gets each one (a get from a non-neighbour that
holds no replica). Ours is measured a second time with a fresh joiner that is told the
publisher (as a gossiped header tells it), which races a direct fetch against the lookups.
"prev" is ours with the get of before p2p.lookup: py-libp2p's own lookups, raced against a
publisher that is already sending once its head start is over.
Prints the median put and get times per size and variant, the streams the getter opened per
get (each a multistream negotiation; DHT lookups open one per peer queried), the CPU time of
both ends (getter and publisher processes) per hinted get, failures and the load average.
Goal: 1 MB get from a non-neighbour <= 50 ms.

    .venv/bin/python bench/p2p_dht.py --nodes 6 --rounds 3
"""

from __future__ import annotations

import argparse
import os

import trio
from p2p_cluster import cluster, connect_line, median, worker

SIZES = (1024, 100 * 1024, 1024 * 1024, 10 * 1024 * 1024)


async def measure(variant: str, nodes_count: int, rounds: int) -> dict[int, dict]:
    results: dict[int, dict] = {
        size: {
            "put": [],
            "get": [],
            "hinted": [],
            "get_streams": [],
            "hinted_streams": [],
            "hinted_cpu": [],
            "failed": 0,
        }
        for size in SIZES
    }
    async with cluster(nodes_count, variant) as nodes:
        await connect_line(nodes, extra_links=False)
        keys: list[tuple[int, str]] = []
        for size in SIZES:
            for _ in range(rounds):
                put = await nodes[0].call("put", size=size)
                if "error" in put:
                    results[size]["failed"] += 1
                    continue
                results[size]["put"].append(put["seconds"])
                keys.append((size, put["key"]))
        await get_all(variant, nodes, keys, results, "get", hint=False)
        if variant != "stock":
            await get_all(variant, nodes, keys, results, "hinted", hint=True)
    return results


async def get_all(variant, nodes, keys, results, column: str, hint: bool) -> None:
    """A fresh joiner, connected to the last node only, gets every key."""
    async with worker(variant) as joiner:
        await joiner.call("connect", addr=nodes[-1].addr)
        for size, key in keys:
            args = {"publisher": nodes[0].addr} if hint else {}
            before = [await joiner.call("counters"), await nodes[0].call("counters")]
            got = await joiner.call("get", key=key, **args)
            after = [await joiner.call("counters"), await nodes[0].call("counters")]
            if got.get("ok"):
                results[size][column].append(got["seconds"])
                opened = sum(after[0]["streams"].values()) - sum(before[0]["streams"].values())
                results[size][f"{column}_streams"].append(opened)
                if hint:  # both ends of the transfer
                    cpu = sum(a["cpu"] - b["cpu"] for a, b in zip(after, before, strict=True))
                    results[size]["hinted_cpu"].append(cpu)
            else:
                results[size]["failed"] += 1


async def main(nodes_count: int, rounds: int, variants: list[str]) -> None:
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    print(
        f"{'size':>9} {'variant':>7} {'put ms':>9} {'get ms':>9} {'streams':>7} "
        f"{'hinted':>9} {'streams':>7} {'CPU ms':>7} {'failed':>7} {'load':>5}"
    )
    for variant in variants:
        results = await measure(variant, nodes_count, rounds)
        for size, r in results.items():
            print(
                f"{size:>9} {variant:>7} {1000 * median(r['put']):>9.1f} "
                f"{1000 * median(r['get']):>9.1f} {median(r['get_streams']):>7.0f} "
                f"{1000 * median(r['hinted']):>9.1f} {median(r['hinted_streams']):>7.0f} "
                f"{1000 * median(r['hinted_cpu']):>7.1f} "
                f"{r['failed']:>7} {os.getloadavg()[0]:>5.2f}",
                flush=True,
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=("stock", "prev", "ours"),
        default=["stock", "prev", "ours"],
    )
    args = parser.parse_args()
    trio.run(main, args.nodes, args.rounds, args.variants)
