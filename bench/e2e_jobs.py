"""End-to-end jobs: latency of one small job and throughput of many, across real processes.

Starts a local network (devnet, Registry, one validator, two executors as `node` processes),
then, from this process acting as the delegator (the same `Delegation` that `node delegate`
runs):
  - latency: N fibonacci jobs one after the other, publish -> JobCompleted seen, with the
    time spent in each step (bids, assignment, execution + fact + payment);
  - throughput: M jobs delegated at once; jobs paid per minute.
Baseline in the same run: the chain's floor, two transactions through starknet-py with fee
estimation (a job needs two: the validator's register_fact and the executor's submit_witness).

    .venv/bin/python bench/e2e_jobs.py [--sequential 5] [--concurrent 6]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

from cairo_jobs.examples import compiled
from node.config import load_config
from node.localnet import LocalNetwork
from node.roles.delegator import Delegator, JobSpec, Outcome
from node.roles.services import open_services
from node.wallet import Wallet
from p2p.stark import StarkKeyPair
from registry_contract.client import FactRegistryClient

GOAL_LATENCY_S = 3.0
GOAL_JOBS_PER_MIN = 60
REWARD = 10**15
VALIDATOR, DELEGATOR, EXECUTOR_1, EXECUTOR_2 = range(4)


class Timeline:
    """Seconds from the start of one delegation to each of its progress steps."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.at: dict[str, float] = {}

    def __call__(self, step: str, details: dict[str, Any]) -> None:
        self.at.setdefault(step, time.monotonic() - self.started)


def spec(n: int, deadline_s: float = 600) -> JobSpec:
    return JobSpec(program=compiled("fibonacci"), program_input=f'{{"n": {n}}}'.encode(),
                   layout="small", reward=REWARD, deadline=int(time.time() + deadline_s),
                   max_steps=100_000)


async def sequential(network: LocalNetwork, n: int) -> list[Timeline]:
    timelines = []
    async with delegator_services(network) as services, trio.open_nursery() as nursery:
        delegator = Delegator(services)
        await nursery.start(delegator.run)
        for i in range(n):
            timeline = Timeline()
            outcome = await delegator.delegate(spec(10 + i), timeline)
            assert outcome.state == "paid", outcome
            timelines.append(timeline)
            seconds = timeline.at["paid"] - timeline.at["published"]
            print(f"  job {i + 1}: publish -> paid {seconds:.2f} s", flush=True)
        nursery.cancel_scope.cancel()
    return timelines


async def concurrent(network: LocalNetwork, m: int) -> tuple[list[Outcome], float]:
    outcomes: list[Outcome] = []
    async with delegator_services(network) as services, trio.open_nursery() as nursery:
        delegator = Delegator(services)
        await nursery.start(delegator.run)
        started = time.monotonic()

        async def one(i: int) -> None:
            outcomes.append(await delegator.delegate(spec(30 + i), lambda *_: None))

        async with trio.open_nursery() as jobs:
            for i in range(m):
                jobs.start_soon(one, i)
        nursery.cancel_scope.cancel()
        return outcomes, time.monotonic() - started


def delegator_services(network: LocalNetwork) -> Any:
    os.environ.update(network.env(DELEGATOR))
    config = load_config(network.config_path, os.environ,
                         {"node.data_dir": str(network.data_dir("delegator")),
                          "p2p.bootstrap": [node.address for node in network.nodes]})
    return open_services(config, "delegator")


async def chain_floor(network: LocalNetwork, n: int = 4) -> list[float]:
    """Seconds for two fact registrations (estimate + send + receipt each), n times."""
    info = network.account(VALIDATOR)
    chain_id = int(network.devnet.info["chain_id"], 16)  # type: ignore[union-attr]
    wallet = Wallet(int(info["address"], 16),
                    StarkKeyPair.from_private_key(int(info["private_key"], 16)), chain_id)
    facts = FactRegistryClient(wallet.account(network.url), network.contracts()["fact_registry"])
    samples = []
    for i in range(n):
        started = time.monotonic()
        for j in range(2):
            await facts.register_fact(10**20 + 10 * i + j, 0)
        samples.append(time.monotonic() - started)
    return samples


def step_medians(timelines: list[Timeline]) -> dict[str, float]:
    def median_between(a: str, b: str) -> float:
        return statistics.median(t.at[b] - t.at[a] for t in timelines)

    return {"publish -> first bid": median_between("published", "bid"),
            "first bid -> assigned": median_between("bid", "assigned"),
            "assigned -> paid (run, witness, fact, submit)": median_between("assigned", "paid"),
            "publish -> paid": median_between("published", "paid")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequential", type=int, default=5)
    parser.add_argument("--concurrent", type=int, default=6)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="e2e-bench-") as work, \
            LocalNetwork(Path(work), accounts=4) as network:
        network.deposit(DELEGATOR, 10**18)
        network.start("validate", "validator", VALIDATOR)
        for name, account in (("executor-1", EXECUTOR_1), ("executor-2", EXECUTOR_2)):
            network.start("serve", name, account)
        floor = asyncio.run(chain_floor(network))
        print(f"chain floor, 2 estimated transactions: median {statistics.median(floor):.2f} s",
              flush=True)
        timelines = trio.run(sequential, network, args.sequential)
        for step, seconds in step_medians(timelines).items():
            print(f"  {step:48} median {seconds:6.2f} s", flush=True)
        outcomes, wall = trio.run(concurrent, network, args.concurrent)
        paid = sum(outcome.state == "paid" for outcome in outcomes)
        print(f"{args.concurrent} jobs at once: {paid} paid in {wall:.1f} s = "
              f"{paid / wall * 60:.1f} jobs/min (goal {GOAL_JOBS_PER_MIN})", flush=True)
        latency = step_medians(timelines)["publish -> paid"]
        print(f"latency publish -> paid: median {latency:.2f} s (goal {GOAL_LATENCY_S} s); "
              f"{latency / statistics.median(floor):.1f}x the chain floor", flush=True)
    print(f"load average at end: {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
