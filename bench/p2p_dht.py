"""DHT put/get latency across node processes: ours beside py-libp2p's KadDHT defaults.

Nodes 0..N-1 form a line. Node 0 puts values of each size. "cold": for every value a fresh
node joins, connected only to the far end of the line, and gets it by key alone (a get from
a non-neighbour with no connection to the publisher, as when a header gives no hint), after
`--settle` seconds (its connection's identify and gossip handshakes are done by then). "get":
one more joiner gets every value in turn (after its first get it is connected to the nodes it
met). "hinted": a last joiner is told the publisher (as a gossiped header tells it), which
races a direct fetch against the lookups.
"prev" is ours with the get of before p2p.lookup: py-libp2p's own lookups, raced against a
publisher that is already sending once its head start is over.
Prints the median put and get times per size and variant, the streams the cold getter opened
per get (each a multistream negotiation; DHT lookups open one per peer queried), the CPU time
of both ends (getter and publisher processes) per cold and per hinted get, failures and the
load average, then why any of them failed (each reason once per size).
--baseline-ref REV also runs `ours` of commit REV (bench/baseline.py), alternating with this
tree `--runs` times, and prints each figure's median over the runs and the ratio base / now.
--trace times the steps of each cold get of this tree (bench/dht_trace.py): dials (TCP, the
multistream negotiations, Noise XX, Yamux start), identify both ways, stream opens and their
negotiation, DHT queries, the fetch and its transfer, the sha256 checks.
Goal: 1 MB get from a non-neighbour <= 50 ms.

    .venv/bin/python bench/p2p_dht.py --nodes 6 --rounds 3
    .venv/bin/python bench/p2p_dht.py --variants ours --baseline-ref main --runs 2 --trace
"""

from __future__ import annotations

import argparse
import os
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path

import trio
from baseline import source_tree
from p2p_cluster import Worker, cluster, connect_line, median, worker

SIZES = (1024, 100 * 1024, 1024 * 1024, 10 * 1024 * 1024)
COLUMNS = ("put", "cold", "cold_streams", "cold_cpu", "get", "hinted", "hinted_cpu")


async def measure(
    variant: str, root: Path | None, nodes_count: int, rounds: int, settle: float, trace: bool
) -> dict[int, dict]:
    """One run: a line of `nodes_count` nodes, `rounds` values of each size, every get."""
    results: dict[int, dict] = {
        size: {c: [] for c in COLUMNS} | {"failed": 0, "errors": set()} for size in SIZES
    }
    joiners = rounds * len(SIZES)
    async with cluster(nodes_count + joiners, variant, root) as workers:
        nodes, fresh = workers[:nodes_count], workers[nodes_count:]
        await connect_line(nodes, extra_links=False)
        keys: list[tuple[int, str]] = []
        for size in SIZES:
            for _ in range(rounds):
                put = await nodes[0].call("put", size=size)
                if "error" in put:
                    results[size]["failed"] += 1
                    results[size]["errors"].add(f"put: {put['error']}")
                    continue
                results[size]["put"].append(put["seconds"])
                keys.append((size, put["key"]))
        for (size, key), joiner in zip(keys, fresh, strict=False):
            await joiner.call("connect", addr=nodes[-1].addr)
            await trio.sleep(settle)
            await get(joiner, nodes[0], size, key, results, "cold", {}, trace)
        async with worker(variant, root) as joiner:
            await joiner.call("connect", addr=nodes[-1].addr)
            for size, key in keys:
                await get(joiner, nodes[0], size, key, results, "get", {}, False)
        if variant != "stock":
            async with worker(variant, root) as joiner:
                await joiner.call("connect", addr=nodes[-1].addr)
                hint = {"publisher": nodes[0].addr}
                for size, key in keys:
                    await get(joiner, nodes[0], size, key, results, "hinted", hint, False)
    return results


async def get(
    joiner: Worker,
    publisher: Worker,
    size: int,
    key: str,
    results: dict[int, dict],
    column: str,
    args: dict,
    trace: bool,
) -> None:
    """`joiner` gets `key`; its time, streams and CPU (both ends) go into `results`."""
    if trace:
        await joiner.call("trace", start=True)
    before = [await joiner.call("counters"), await publisher.call("counters")]
    got = await joiner.call("get", key=key, **args)
    after = [await joiner.call("counters"), await publisher.call("counters")]
    if not got.get("ok"):
        results[size]["failed"] += 1
        results[size]["errors"].add(f"{column} get: {got.get('error', 'wrong value')}")
        return
    results[size][column].append(got["seconds"])
    cpu = sum(a["cpu"] - b["cpu"] for a, b in zip(after, before, strict=True))
    if f"{column}_cpu" in results[size]:
        results[size][f"{column}_cpu"].append(cpu)
    if f"{column}_streams" in results[size]:
        opened = sum(after[0]["streams"].values()) - sum(before[0]["streams"].values())
        results[size][f"{column}_streams"].append(opened)
    if trace:
        print_trace(size, got["seconds"], await joiner.call("trace", start=False))


def print_trace(size: int, seconds: float, report: dict) -> None:
    """The steps of one traced get: every span (start, duration) and the wire counters."""
    print(f"-- trace: {size} bytes by key, {1000 * seconds:.1f} ms")
    for name, start, duration in report["spans"]:
        print(f"   {start:7.1f} +{duration:6.1f} ms  {name}")
    counts = ", ".join(f"{name} {count}" for name, count in sorted(report["counts"].items()))
    print(f"   {counts}", flush=True)


def ms(values: list[float]) -> float:
    return 1000 * median(values)


def print_run(label: str, results: dict[int, dict]) -> None:
    for size, r in results.items():
        print(
            f"{size:>9} {label:>7} {ms(r['put']):>8.1f} {ms(r['cold']):>8.1f} "
            f"{median(r['cold_streams']):>7.0f} {ms(r['cold_cpu']):>7.1f} {ms(r['get']):>8.1f} "
            f"{ms(r['hinted']):>8.1f} {ms(r['hinted_cpu']):>7.1f} "
            f"{r['failed']:>6} {os.getloadavg()[0]:>5.2f}",
            flush=True,
        )
    for size, r in results.items():
        for error in sorted(r["errors"]):
            print(f"{size:>9} {label:>7} failed: {error}", flush=True)


def print_comparison(runs: dict[str, list[dict[int, dict]]]) -> None:
    """Medians of every run's medians, now against the baseline, and base / now."""
    print("\nmedians over runs (ms); ratio = base / now")
    print(f"{'size':>9} {'column':>10} {'now':>8} {'base':>8} {'ratio':>6}")
    for size in SIZES:
        for column in ("cold", "cold_cpu", "get", "hinted", "hinted_cpu"):
            now, base = (median([ms(r[size][column]) for r in runs[k]]) for k in ("now", "base"))
            print(f"{size:>9} {column:>10} {now:>8.1f} {base:>8.1f} {base / now:>6.2f}")


async def main(args: argparse.Namespace) -> None:
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    print(
        f"{'size':>9} {'variant':>7} {'put ms':>8} {'cold ms':>8} {'streams':>7} "
        f"{'CPU ms':>7} {'get ms':>8} {'hinted':>8} {'CPU ms':>7} {'failed':>6} {'load':>5}"
    )
    with ExitStack() as stack:
        configs: list[tuple[str, str, Path | None]] = [(v, v, None) for v in args.variants]
        if args.baseline_ref:
            configs.append(("base", "ours", stack.enter_context(source_tree(args.baseline_ref))))
        runs: dict[str, list[dict[int, dict]]] = defaultdict(list)
        for _ in range(args.runs):
            for label, variant, root in configs:
                trace = args.trace and root is None and variant == "ours"
                results = await measure(variant, root, args.nodes, args.rounds, args.settle, trace)
                print_run(label, results)
                runs["now" if label == "ours" else label].append(results)
        if args.baseline_ref and "ours" in args.variants:
            print_comparison(runs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=1, help="alternations with --baseline-ref")
    parser.add_argument(
        "--settle", type=float, default=1.0, help="seconds a cold joiner waits after connecting"
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=("stock", "prev", "ours"),
        default=["stock", "prev", "ours"],
    )
    parser.add_argument("--baseline-ref", help="also run `ours` of this commit, alternating")
    parser.add_argument("--trace", action="store_true", help="time the steps of each cold get")
    trio.run(main, parser.parse_args())
