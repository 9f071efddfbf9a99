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
`--leave NODE` kills that node halfway through (delivery then counts the nodes left).
`--cpus N` pins every node process to the first N CPUs (how p99 scales with the cores).
Goal: p99 <= 20 ms at 16 nodes.
`--baseline-ref REV` also runs ours at commit REV (variant "base": these bench scripts on the
packages of that commit, extracted by bench/baseline.py), alternating with the others; `--runs N`
repeats each and prints medians and the ratios ours / base. `--timers` prints, for ours and
base, the receivers' CPU per header part by part (bench/hop_timers.py; each timer adds ~1 µs,
so latency is not comparable).

    .venv/bin/python bench/p2p_propagation.py --sizes 3 8 16 --count 100 --rate 20
    .venv/bin/python bench/p2p_propagation.py --sizes 16 --variants ours --runs 3 \
        --baseline-ref main
    .venv/bin/python bench/p2p_propagation.py --sizes 8 16 --variants ours --runs 3 \
        --baseline-ref HEAD --mesh 4 3 8     # other mesh degrees against the defaults
"""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path

import hop_timers
import trio
from baseline import source_tree
from p2p_cluster import (
    WORKER,
    Worker,
    add_tuning_arguments,
    cluster,
    connect_line,
    first_cpus,
    median,
    percentile,
    tuning_options,
)


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
    size: int, variant: str, args: argparse.Namespace, root: Path | None
) -> dict:
    """One run of `size` nodes of `variant` ("base": ours from `root`)."""
    kind = "ours" if variant == "base" else variant
    timed = args.timers and variant != "stock"
    options = ["--timers"] if timed else []
    options += tuning_options(args) if variant == "ours" else []
    base_root = root if variant == "base" else None
    # This tree's worker script on both sides: its timers are the ones compared.
    async with cluster(size, kind, base_root, options, WORKER, args.cpus) as all_nodes:
        await connect_line(all_nodes, extra_links=True)
        await settle(all_nodes)
        leaver = all_nodes[args.leave] if args.leave else None
        nodes = [node for node in all_nodes if node is not leaver]  # the publisher first
        idle_start = await counters(nodes)
        await trio.sleep(args.idle)
        idle_end = await counters(nodes)
        idle_rate = total(idle_start[1:], idle_end[1:], "cpu") / args.idle  # receivers, CPU s/s
        idle_sys = total(idle_start[1:], idle_end[1:], "sys") / args.idle
        if args.profile:
            await nodes[-1].call("profile")
        timers_before = [await n.call("timers") for n in nodes[1:]] if timed else []
        before = await counters(nodes)
        started = trio.current_time()
        published = await publish(nodes[0], leaver, args)
        received = await collect(nodes[1:], args.count)
        after = await counters(nodes)
        elapsed = trio.current_time() - started
        timers_after = [await n.call("timers") for n in nodes[1:]] if timed else []
        if args.profile:
            await nodes[-1].call("profile", path=f"{args.profile}-{variant}-{size}.pstats")
    sent = published["sent"]
    latencies = [t - sent[int(seq)] for got in received for seq, t in got.items()]
    busy = total(before[1:], after[1:], "cpu") - idle_rate * elapsed
    kernel = total(before[1:], after[1:], "sys") - idle_sys * elapsed
    parts = parts_per_header(timers_before, timers_after, busy, idle_rate * elapsed, latencies)
    return {
        "parts": parts,
        "p50_ms": 1000 * percentile(latencies, 0.5) if latencies else float("nan"),
        "p99_ms": 1000 * percentile(latencies, 0.99) if latencies else float("nan"),
        "delivered": len(latencies) / (args.count * (len(nodes) - 1)),
        "cpu_hop_ms": 1000 * busy / max(1, len(latencies)),
        "sys_hop_ms": 1000 * kernel / max(1, len(latencies)),
        "rpcs_msg": total(before, after, "rpcs") / args.count,
        "kb_msg": total(before, after, "rpc_bytes") / args.count / 1024,
        "header_bytes": published["bytes"],
    }


async def publish(publisher: Worker, leaver: Worker | None, args: argparse.Namespace) -> dict:
    """`publisher` publishes the headers; `leaver`, if any, is killed halfway through."""

    async def leave() -> None:
        await trio.sleep(args.count / args.rate / 2)
        leaver.process.kill()

    async with trio.open_nursery() as nursery:
        if leaver is not None:
            nursery.start_soon(leave)
        return await publisher.call("publish", count=args.count, rate=args.rate)


def parts_per_header(
    before: list[dict], after: list[dict], busy_s: float, idle_s: float, latencies: list
) -> dict[str, float]:
    """The receivers' CPU ms per header received, part by part (bench/hop_timers.py), with
    the copies received per header; empty without timers."""
    if not before:
        return {}
    headers = max(1, len(latencies))
    parts: dict[str, float] = {}
    for b, a in zip(before, after, strict=True):
        for part, ms in a["ms"].items():
            parts[part] = parts.get(part, 0.0) + (ms - b["ms"].get(part, 0.0)) / headers
        for name, n in a["events"].items():
            parts[name] = parts.get(name, 0.0) + (n - b["events"].get(name, 0)) / headers
    timed = sum(ms for part, ms in parts.items() if part not in EVENTS)
    parts[NOT_TIMED] = 1000 * (busy_s + idle_s) / headers - timed
    parts[BUSY] = 1000 * busy_s / headers
    return parts


EVENTS = (hop_timers.COPIES, hop_timers.FIRSTS)
NOT_TIMED = "not timed (trio/anyio scheduling, logging, idle loop)"
BUSY = "all, less the idle rate (CPU/hop)"


def print_parts(rows: dict[tuple[int, str], list[dict]]) -> None:
    """Medians of the timed parts per header received, one column per size and variant."""
    columns = [(key, runs) for key, runs in rows.items() if runs[0]["parts"]]
    if not columns:
        return
    names = sorted(
        {name for _, runs in columns for r in runs for name in r["parts"]},
        key=lambda name: -median([r["parts"].get(name, 0.0) for r in columns[0][1]]),
    )
    print("receivers' CPU ms per header received, by part (medians); copies per header")
    print(f"{'':>55} " + " ".join(f"{size:>3} {variant:>5}" for (size, variant), _ in columns))
    for name in names:
        cells = [median([r["parts"].get(name, 0.0) for r in runs]) for _, runs in columns]
        print(f"{name[:55]:>55} " + " ".join(f"{cell:>9.3f}" for cell in cells))


async def main(args: argparse.Namespace) -> None:
    where = f"CPUs {sorted(args.cpus)}" if args.cpus else "all CPUs"
    print(f"load average before: {os.getloadavg()[0]:.2f}; nodes on {where}", flush=True)
    with contextlib.ExitStack() as stack:
        root = stack.enter_context(source_tree(args.baseline_ref)) if args.baseline_ref else None
        variants = [*args.variants, *(["base"] if root else [])]
        rows: dict[tuple[int, str], list[dict]] = {}
        print(HEADER)
        for size in args.sizes:
            for _ in range(args.runs):
                for variant in variants:  # alternating, so load drifts hit all alike
                    r = await measure(size, variant, args, root)
                    rows.setdefault((size, variant), []).append(r)
                    print(row(size, variant, r), flush=True)
        if args.runs > 1 or root:
            print(f"medians of {args.runs} runs")
            print(HEADER)
            for (size, variant), runs in rows.items():
                numbers = [k for k in runs[0] if k != "parts"]
                print(row(size, variant, {k: median([r[k] for r in runs]) for k in numbers}))
        if root:
            print_ratios(rows, args.sizes)
        print_parts(rows)
    print(f"header size: {r['header_bytes']} bytes; load average after: {os.getloadavg()[0]:.2f}")


HEADER = (
    f"{'nodes':>5} {'variant':>7} {'p50 ms':>8} {'p99 ms':>8} {'delivered':>9} "
    f"{'CPU/hop ms':>10} {'kernel':>6} {'RPCs/msg':>8} {'KiB/msg':>7} {'load':>5}"
)


def row(size: int, variant: str, r: dict) -> str:
    """One line of the table."""
    return (
        f"{size:>5} {variant:>7} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
        f"{r['delivered']:>9.1%} {r['cpu_hop_ms']:>10.2f} {r['sys_hop_ms']:>6.2f} "
        f"{r['rpcs_msg']:>8.1f} {r['kb_msg']:>7.1f} {os.getloadavg()[0]:>5.2f}"
    )


def print_ratios(rows: dict[tuple[int, str], list[dict]], sizes: list[int]) -> None:
    """ours / base, medians, per size."""
    for size in sizes:
        ours, base = rows.get((size, "ours")), rows.get((size, "base"))
        if not ours or not base:
            continue
        ratios = {
            key: median([r[key] for r in ours]) / median([r[key] for r in base])
            for key in ("p50_ms", "p99_ms", "cpu_hop_ms", "rpcs_msg")
        }
        print(f"{size:>5} ours/base: p50 x{ratios['p50_ms']:.2f}  p99 x{ratios['p99_ms']:.2f}  "
              f"CPU/hop x{ratios['cpu_hop_ms']:.2f}  RPCs x{ratios['rpcs_msg']:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[3, 8, 16])
    parser.add_argument("--count", type=int, default=100, help="headers published")
    parser.add_argument("--rate", type=float, default=20.0, help="headers per second")
    parser.add_argument(
        "--variants", nargs="+", choices=("stock", "ours"), default=["stock", "ours"]
    )
    parser.add_argument("--runs", type=int, default=1, help="runs per size and variant")
    parser.add_argument(
        "--baseline-ref", help="also run ours at this commit (variant 'base'), alternating"
    )
    parser.add_argument(
        "--timers", action="store_true",
        help="time ours (and base) part by part (bench/hop_timers.py): where a header's CPU goes",
    )
    parser.add_argument(
        "--leave", type=int, metavar="NODE",
        help="kill node NODE (1..n-1; 7 is the hub at 16 nodes) halfway through the publishing",
    )
    add_tuning_arguments(parser)  # ours only; --baseline-ref HEAD runs the defaults beside
    parser.add_argument(
        "--cpus", type=first_cpus, metavar="N",
        help="pin every node process to the first N CPUs (default: no pinning)",
    )
    parser.add_argument("--idle", type=float, default=2.0, help="seconds of idle CPU baseline")
    parser.add_argument(
        "--profile", help="write a cProfile of the last node to <PROFILE>-<variant>-<n>.pstats"
    )
    trio.run(main, parser.parse_args())
