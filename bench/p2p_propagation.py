"""Gossip propagation across node processes: ours beside py-libp2p's defaults.

For each network size, node 0 publishes real signed job headers at a steady rate; every node
checks each one with the job topic's header validator before forwarding it. Prints, per variant:
- latency p50/p99 (receive time - send time, every receiver, every header) and the share
  delivered;
- CPU per message per hop: the receivers' process CPU time (user + kernel) during the run, less
  what they spend idle (measured just before over `--idle` seconds), divided by headers x
  receivers; "kernel" is the system-time part. Unlike the latency, this hardly depends on what
  else the machine runs;
- pubsub RPCs and bytes written per header, summed over all nodes (every RPC is read by one peer);
- the load average before and after.
Goal: p99 <= 20 ms at 16 nodes.

    .venv/bin/python bench/p2p_propagation.py --sizes 3 8 16 --count 100 --rate 20
"""

from __future__ import annotations

import argparse
import os

import trio
from p2p_cluster import Worker, cluster, connect_line, percentile


async def counters(nodes: list[Worker]) -> list[dict]:
    """Every node's counters, read concurrently."""
    results: list[dict] = [{}] * len(nodes)

    async def read(i: int) -> None:
        results[i] = await nodes[i].call("counters")

    async with trio.open_nursery() as nursery:
        for i in range(len(nodes)):
            nursery.start_soon(read, i)
    return results


async def collect(nodes: list[Worker], count: int) -> list[dict]:
    """Every node's receive times (seq -> epoch seconds), once all arrived or after 10 s."""
    results: list[dict] = []

    async def one(node: Worker) -> None:
        results.append((await node.call("collect", count=count, timeout=10))["received"])

    async with trio.open_nursery() as nursery:
        for node in nodes:
            nursery.start_soon(one, node)
    return results


async def settle(nodes: list[Worker]) -> None:
    """Wait (at most 15 s) until every node has a mesh peer, then one more heartbeat."""
    with trio.move_on_after(15):
        while min([(await n.call("mesh"))["mesh"] for n in nodes]) == 0:
            await trio.sleep(0.2)
    await trio.sleep(1)


def total(before: list[dict], after: list[dict], counter: str) -> float:
    """How much `counter` grew, summed over nodes."""
    return sum(a[counter] - b[counter] for b, a in zip(before, after, strict=True))


async def measure(
    size: int, variant: str, count: int, rate: float, idle_s: float, profile: str | None
) -> dict:
    async with cluster(size, variant) as nodes:
        await connect_line(nodes, extra_links=True)
        await settle(nodes)
        idle_start = await counters(nodes)
        await trio.sleep(idle_s)
        idle_end = await counters(nodes)
        idle_rate = total(idle_start[1:], idle_end[1:], "cpu") / idle_s  # receivers, CPU s/s
        idle_sys = total(idle_start[1:], idle_end[1:], "sys") / idle_s
        if profile:
            await nodes[-1].call("profile")
        before = await counters(nodes)
        started = trio.current_time()
        published = await nodes[0].call("publish", count=count, rate=rate)
        received = await collect(nodes[1:], count)
        after = await counters(nodes)
        elapsed = trio.current_time() - started
        if profile:
            await nodes[-1].call("profile", path=f"{profile}-{variant}-{size}.pstats")
    sent = published["sent"]
    latencies = [t - sent[int(seq)] for got in received for seq, t in got.items()]
    busy = total(before[1:], after[1:], "cpu") - idle_rate * elapsed
    kernel = total(before[1:], after[1:], "sys") - idle_sys * elapsed
    return {
        "p50_ms": 1000 * percentile(latencies, 0.5) if latencies else float("nan"),
        "p99_ms": 1000 * percentile(latencies, 0.99) if latencies else float("nan"),
        "delivered": len(latencies) / (count * (size - 1)),
        "cpu_hop_ms": 1000 * busy / max(1, len(latencies)),
        "sys_hop_ms": 1000 * kernel / max(1, len(latencies)),
        "rpcs_msg": total(before, after, "rpcs") / count,
        "kb_msg": total(before, after, "rpc_bytes") / count / 1024,
        "header_bytes": published["bytes"],
    }


async def main(args: argparse.Namespace) -> None:
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    print(
        f"{'nodes':>5} {'variant':>7} {'p50 ms':>8} {'p99 ms':>8} {'delivered':>9} "
        f"{'CPU/hop ms':>10} {'kernel':>6} {'RPCs/msg':>8} {'KiB/msg':>7} {'load':>5}"
    )
    for size in args.sizes:
        for variant in args.variants:
            r = await measure(size, variant, args.count, args.rate, args.idle, args.profile)
            print(
                f"{size:>5} {variant:>7} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
                f"{r['delivered']:>9.1%} {r['cpu_hop_ms']:>10.2f} {r['sys_hop_ms']:>6.2f} "
                f"{r['rpcs_msg']:>8.1f} "
                f"{r['kb_msg']:>7.1f} {os.getloadavg()[0]:>5.2f}",
                flush=True,
            )
    print(f"header size: {r['header_bytes']} bytes; load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[3, 8, 16])
    parser.add_argument("--count", type=int, default=100, help="headers published")
    parser.add_argument("--rate", type=float, default=20.0, help="headers per second")
    parser.add_argument(
        "--variants", nargs="+", choices=("stock", "ours"), default=["stock", "ours"]
    )
    parser.add_argument("--idle", type=float, default=2.0, help="seconds of idle CPU baseline")
    parser.add_argument(
        "--profile", help="write a cProfile of the last node to <PROFILE>-<variant>-<n>.pstats"
    )
    trio.run(main, parser.parse_args())
