"""Devnet throughput: sustained invokes/s and add->receipt latency, through starknet-py.

Starts a devnet process, declares and deploys the sample contract, then for two workloads (fee
token transfer, storage write) sends N invokes one after the other:
  - "with estimate": `Account.execute_v3(auto_estimate=True)` (estimate + add + receipt),
  - "pre-signed": transactions signed beforehand with fixed bounds (add + receipt only).
Baselines measured in the same run: `starknet_chainId` (HTTP + JSON-RPC floor) and a
`starknet_call` of `balance_of` (one Cairo entry-point run).

    .venv/bin/python bench/devnet_invokes.py [--n 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starknet_py.hash.selector import get_selector_from_name
from starknet_py.net.account.account import Account
from starknet_py.net.client_models import Call

from devnet import check
from devnet.spawn import DevnetProcess

GOAL_INVOKES_PER_S = 20
GOAL_P50_MS = 100


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def timed(action: Callable[[], Awaitable[Any]], n: int) -> tuple[list[float], float]:
    """Latencies (ms) of n sequential runs of `action`, and the wall time (s) of all."""
    latencies = []
    started = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        await action()
        latencies.append((time.perf_counter() - t0) * 1000)
    return latencies, time.perf_counter() - started


def report(name: str, latencies: list[float], wall: float) -> None:
    print(f"{name:34} n={len(latencies):3} {len(latencies) / wall:7.2f}/s "
          f"p50={statistics.median(latencies):8.1f} ms p99={percentile(latencies, 0.99):8.1f} ms",
          flush=True)


async def estimated_invokes(account: Account, call: Call, n: int) -> tuple[list[float], float]:
    """execute_v3 with fee estimation, then the receipt."""
    async def invoke() -> None:
        sent = await account.execute_v3(calls=[call], auto_estimate=True)
        await account.client.get_transaction_receipt(sent.transaction_hash)

    return await timed(invoke, n)


async def presigned_invokes(account: Account, call: Call, n: int) -> tuple[list[float], float]:
    """Transactions signed beforehand with fixed bounds: add, then the receipt."""
    nonce = await account.get_nonce()
    signed = iter([await account.sign_invoke_v3([call], nonce=nonce + i,
                                                resource_bounds=check.GENEROUS_BOUNDS)
                   for i in range(n)])

    async def invoke() -> None:
        sent = await account.client.send_transaction(next(signed))
        await account.client.get_transaction_receipt(sent.transaction_hash)

    return await timed(invoke, n)


async def bench(url: str, address: int, private_key: int, n: int) -> None:
    ctx = await check.make_context(url, address, private_key)
    await check.check_declare(ctx)
    await check.check_deploy_and_call(ctx)
    assert ctx.sample is not None
    calls = {
        "transfer": Call(to_addr=check.FEE_TOKEN, selector=check.TRANSFER,
                         calldata=[0x1234, 1, 0]),
        "storage write": Call(to_addr=ctx.sample.address, selector=get_selector_from_name("set"),
                              calldata=[1, 2]),
    }
    client, account = ctx.client, ctx.account
    report("baseline chainId", *await timed(client.get_chain_id, n))
    balance_of = Call(to_addr=check.FEE_TOKEN, selector=get_selector_from_name("balance_of"),
                      calldata=[account.address])
    report("baseline call balance_of", *await timed(lambda: client.call_contract(balance_of), n))
    for name, call in calls.items():
        report(f"{name} with estimate", *await estimated_invokes(account, call, n))
        report(f"{name} pre-signed", *await presigned_invokes(account, call, n))
    print(f"goal: >= {GOAL_INVOKES_PER_S} invokes/s and p50 <= {GOAL_P50_MS} ms (pre-signed)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20, help="invokes per workload")
    args = parser.parse_args()
    with DevnetProcess("--accounts", "1") as devnet:
        account = devnet.info["accounts"][0]
        asyncio.run(bench(devnet.url, int(account["address"], 16),
                          int(account["private_key"], 16), args.n))


if __name__ == "__main__":
    main()
