"""Devnet throughput: sustained invokes/s and add->receipt latency, through starknet-py.

Starts a devnet process, declares and deploys the sample contract, then for two workloads (fee
token transfer, storage write) sends N invokes one after the other:
  - "with estimate": `Account.execute_v3(auto_estimate=True)` (estimate + add + receipt),
  - "pre-signed": transactions signed beforehand with fixed bounds (add + receipt only).
Baselines measured in the same run: `starknet_chainId` (HTTP + JSON-RPC floor) and a
`starknet_call` of `balance_of` (one Cairo entry-point run).

    .venv/bin/python bench/devnet_invokes.py [--n 20] [--stages] [--baseline-ref REV]
        [--validate-workers 0|1]

--stages prints, per transfer (pre-signed, then with estimate), where the devnet's time went
(`devnet_stageTimes`: wall ms per stage of request handling, all of a transfer's requests, and
the counts of `__validate__` speculations), what the client's latency has on top, and the CPU
time per transfer of the devnet process and of its `__validate__` worker.
--validate-workers is passed to the devnet under test (default: the devnet's own).
--baseline-ref also starts the devnet of commit REV (extracted with `git archive` into a
temporary directory, removed afterwards) and runs every workload on both, alternating in
chunks so that load drifts hit both alike; ratios are baseline / now.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from baseline import source_tree
from starknet_py.hash.selector import get_selector_from_name
from starknet_py.net.account.account import Account
from starknet_py.net.client_models import Call

from devnet import check
from devnet.spawn import DevnetProcess

GOAL_INVOKES_PER_S = 20
GOAL_P50_MS = 100
CHUNKS = 4  # alternations per workload with --baseline-ref
SERVER_STAGES = ("http read", "json decode", "worker round trip", "json encode")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@dataclass
class Samples:
    """Latencies (ms) and the wall time (s) of the runs that produced them."""

    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)

    def line(self) -> str:
        return (f"n={len(self.latencies):3} {self.rate:7.2f}/s p50={self.p50:8.1f} ms "
                f"p99={percentile(self.latencies, 0.99):8.1f} ms")


async def timed(action: Callable[[], Awaitable[Any]], n: int, into: Samples) -> None:
    """Run `action` n times one after the other; add the latencies and wall time to `into`."""
    started = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        await action()
        into.latencies.append((time.perf_counter() - t0) * 1000)
    into.wall += time.perf_counter() - started


@dataclass
class Target:
    """A running devnet with the bench's account and calls on it."""

    url: str
    pid: int
    ctx: check.Context
    calls: dict[str, Call]

    @property
    def account(self) -> Account:
        return self.ctx.account

    async def rpc(self, method: str) -> Any:
        payload = {"jsonrpc": "2.0", "id": 1, "method": method}
        async with aiohttp.ClientSession() as session, \
                session.post(self.url, json=payload) as reply:
            return (await reply.json())["result"]


async def prepare(devnet: DevnetProcess) -> Target:
    account = devnet.info["accounts"][0]
    ctx = await check.make_context(devnet.url, int(account["address"], 16),
                                   int(account["private_key"], 16))
    await check.check_declare(ctx)
    await check.check_deploy_and_call(ctx)
    assert ctx.sample is not None
    calls = {
        "transfer": Call(to_addr=check.FEE_TOKEN, selector=check.TRANSFER,
                         calldata=[0x1234, 1, 0]),
        "storage write": Call(to_addr=ctx.sample.address, selector=get_selector_from_name("set"),
                              calldata=[1, 2]),
        "balance_of": Call(to_addr=check.FEE_TOKEN, selector=get_selector_from_name("balance_of"),
                           calldata=[ctx.account.address]),
    }
    return Target(devnet.url, devnet.process.pid, ctx, calls)


async def chain_id(target: Target, n: int, into: Samples) -> None:
    await timed(target.ctx.client.get_chain_id, n, into)


async def call_balance_of(target: Target, n: int, into: Samples) -> None:
    await timed(lambda: target.ctx.client.call_contract(target.calls["balance_of"]), n, into)


async def estimated_invokes(target: Target, call: Call, n: int, into: Samples) -> None:
    """execute_v3 with fee estimation, then the receipt."""
    async def invoke() -> None:
        sent = await target.account.execute_v3(calls=[call], auto_estimate=True)
        await target.ctx.client.get_transaction_receipt(sent.transaction_hash)

    await timed(invoke, n, into)


async def presigned_invokes(target: Target, call: Call, n: int, into: Samples) -> None:
    """Transactions signed beforehand with fixed bounds: add, then the receipt."""
    account = target.account
    nonce = await account.get_nonce()
    signed = iter([await account.sign_invoke_v3([call], nonce=nonce + i,
                                                resource_bounds=check.GENEROUS_BOUNDS)
                   for i in range(n)])

    async def invoke() -> None:
        sent = await account.client.send_transaction(next(signed))
        await account.client.get_transaction_receipt(sent.transaction_hash)

    await timed(invoke, n, into)


Workload = Callable[[Target, int, Samples], Awaitable[None]]


def workloads() -> Iterator[tuple[str, Workload]]:
    yield "baseline chainId", chain_id
    yield "baseline call balance_of", call_balance_of
    for name in ("transfer", "storage write"):
        yield f"{name} with estimate", \
            lambda t, n, s, name=name: estimated_invokes(t, t.calls[name], n, s)
        yield f"{name} pre-signed", \
            lambda t, n, s, name=name: presigned_invokes(t, t.calls[name], n, s)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """The processes under `pid` (children, grandchildren, ...)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry}/stat") as stat:
                parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def process_cpu(target: Target) -> dict[str, float]:
    """CPU seconds of the devnet process and of all the processes under it."""
    others = 0.0
    for pid in descendants(target.pid):
        with contextlib.suppress(OSError):
            others += cpu_seconds(pid)
    return {"devnet process": cpu_seconds(target.pid), "processes under it (worker)": others}


async def print_stages(target: Target, n: int, name: str) -> None:
    """Where the time of a transfer (workload `name`) goes, per transfer: the devnet's stages
    (wall ms), what is left of the client's latency (client library and HTTP) and the CPU time
    of the devnet's processes."""
    await target.rpc("devnet_stageTimes")  # start anew
    samples = Samples()
    cpu_before = process_cpu(target)
    await dict(workloads())[name](target, n, samples)
    cpu_after = process_cpu(target)
    stages = await target.rpc("devnet_stageTimes")
    print(f"stages of a {name}, wall ms per transfer, n={n}:")
    for name, entry in stages.items():
        print(f"  {name:40} {entry['ms'] / n:7.2f} ms  ({entry['count']} entries)")
    for name, seconds in cpu_after.items():
        print(f"  {'CPU ' + name:40} {(seconds - cpu_before[name]) * 1000 / n:7.2f} ms")
    served = sum(stages.get(name, {"ms": 0.0})["ms"] for name in SERVER_STAGES) / n
    mean = statistics.mean(samples.latencies)
    print(f"  {'client latency (mean)':40} {mean:7.2f} ms")
    print(f"  {'devnet request handling (' + ' + '.join(SERVER_STAGES) + ')':40} {served:7.2f} ms")
    print(f"  {'rest: client library, HTTP transport':40} {mean - served:7.2f} ms")


async def bench(now: Target, base: Target | None, n: int, stages: bool) -> None:
    for name, workload in workloads():
        if base is None:
            samples = Samples()
            await workload(now, n, samples)
            print(f"{name:34} {samples.line()}", flush=True)
            continue
        both = {"base": Samples(), "now": Samples()}
        for chunk in range(CHUNKS):
            size = n // CHUNKS + (chunk < n % CHUNKS)
            await workload(base, size, both["base"])
            await workload(now, size, both["now"])
        for label, samples in both.items():
            print(f"{name:27} {label:>5} {samples.line()}", flush=True)
        print(f"{name:27} ratio   rate x{both['now'].rate / both['base'].rate:.2f}  "
              f"p50 x{both['base'].p50 / both['now'].p50:.2f}", flush=True)
    print(f"goal: >= {GOAL_INVOKES_PER_S} invokes/s and p50 <= {GOAL_P50_MS} ms (pre-signed)")
    if stages:
        for name in ("transfer pre-signed", "transfer with estimate"):
            await print_stages(now, n, name)


async def run(args: argparse.Namespace) -> None:
    with contextlib.ExitStack() as stack:
        workers = () if args.validate_workers is None else (
            "--validate-workers", str(args.validate_workers))
        now = await prepare(stack.enter_context(DevnetProcess("--accounts", "1", *workers)))
        base = None
        if args.baseline_ref:
            tree = stack.enter_context(source_tree(args.baseline_ref))
            base = await prepare(stack.enter_context(
                DevnetProcess("--accounts", "1", cwd=tree)))
        await bench(now, base, args.n, args.stages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20, help="invokes per workload")
    parser.add_argument("--stages", action="store_true",
                        help="print where a transfer's time goes, stage by stage")
    parser.add_argument("--baseline-ref", help="also run the devnet of this commit, alternating")
    parser.add_argument("--validate-workers", type=int, choices=(0, 1),
                        help="the devnet under test's --validate-workers")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
