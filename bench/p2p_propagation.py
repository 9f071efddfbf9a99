"""Gossip propagation latency across node processes: ours beside py-libp2p's defaults.

For each network size, node 0 publishes headers at a steady rate; every other node records
(receive time - send time). Prints p50/p99 and the share of headers delivered, per variant.
Goal: p99 <= 20 ms at 16 nodes.

    .venv/bin/python bench/p2p_propagation.py --sizes 3 8 16 --count 100 --rate 20
"""

from __future__ import annotations

import argparse

import trio
from p2p_cluster import cluster, connect_line, percentile

HEADER_SIZE = 400  # bytes, about a signed job header


async def measure(size: int, variant: str, count: int, rate: float) -> dict:
    async with cluster(size, variant) as nodes:
        await connect_line(nodes, extra_links=True)
        with trio.move_on_after(15):
            while min([(await n.call("mesh"))["mesh"] for n in nodes]) == 0:
                await trio.sleep(0.2)
        await trio.sleep(1)
        await nodes[0].call("publish", count=count, rate=rate, size=HEADER_SIZE)
        results: list[dict] = []

        async def collect(node) -> None:
            results.append(await node.call("collect", count=count, timeout=10))

        async with trio.open_nursery() as nursery:
            for node in nodes[1:]:
                nursery.start_soon(collect, node)
        latencies = [lat for result in results for lat in result["latencies"]]
        delivered = sum(result["distinct"] for result in results)
    return {
        "p50_ms": 1000 * percentile(latencies, 0.5) if latencies else float("nan"),
        "p99_ms": 1000 * percentile(latencies, 0.99) if latencies else float("nan"),
        "delivered": delivered / (count * (size - 1)),
    }


async def main(sizes: list[int], count: int, rate: float) -> None:
    print(f"{'nodes':>5} {'variant':>7} {'p50 ms':>8} {'p99 ms':>8} {'delivered':>9}")
    for size in sizes:
        results = {}
        for variant in ("stock", "ours"):
            results[variant] = await measure(size, variant, count, rate)
            r = results[variant]
            print(
                f"{size:>5} {variant:>7} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
                f"{r['delivered']:>9.1%}",
                flush=True,
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[3, 8, 16])
    parser.add_argument("--count", type=int, default=100, help="headers published")
    parser.add_argument("--rate", type=float, default=20.0, help="headers per second")
    args = parser.parse_args()
    trio.run(main, args.sizes, args.count, args.rate)
