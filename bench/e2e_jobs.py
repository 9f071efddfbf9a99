"""End-to-end jobs: latency of one small job and throughput of many, across real processes.

Starts a local network (devnet, Registry), then for each setting under comparison starts one
validator and two executors as `node` processes and, from this process acting as the delegator
(the same `Delegator` that `node delegate` runs), measures:
  - latency: N fibonacci jobs one after the other, publish -> JobCompleted seen (median, p90),
    with the time spent in each step (bids, assignment, execution + fact + payment);
  - throughput: M jobs delegated at once; jobs paid per minute.
Baselines in the same run: the previous behaviour's settings (1 s chain polls, 1 s bid window,
a fee estimate per transaction) and the chain's floor, two transactions through starknet-py
with fee estimation (a job needs two: the validator's register_fact and the executor's
submit_witness).

    .venv/bin/python bench/e2e_jobs.py [--sequential 5] [--concurrent 12]
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
SETTINGS: dict[str, dict[str, float]] = {
    "before": {"chain.poll_interval": 1.0, "chain.fee_estimate_ttl": 0.0,
               "delegator.bid_window": 1.0},
    "now": {},
}
"""What is compared: `before` restores the former 1 s waits (polls of the chain, bid window)
and a fee estimate per transaction; `now` runs the local network's configuration."""


class Timeline:
    """Seconds from the start of one delegation to each of its progress steps."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.at: dict[str, float] = {}

    def __call__(self, step: str, details: dict[str, Any]) -> None:
        self.at.setdefault(step, time.monotonic() - self.started)

    def between(self, first: str, last: str) -> float:
        return self.at[last] - self.at[first]


def spec(n: int, deadline_s: float = 600) -> JobSpec:
    return JobSpec(program=compiled("fibonacci"), program_input=f'{{"n": {n}}}'.encode(),
                   layout="small", reward=REWARD, deadline=int(time.time() + deadline_s),
                   max_steps=100_000)


async def sequential(network: LocalNetwork, settings: dict[str, float], n: int,
                     first_input: int) -> list[Timeline]:
    timelines = []
    async with delegator_services(network, settings) as services, \
            trio.open_nursery() as nursery:
        delegator = Delegator(services)
        await nursery.start(delegator.run)
        for i in range(n):
            timeline = Timeline()
            outcome = await delegator.delegate(spec(first_input + i), timeline)
            assert outcome.state == "paid", outcome
            timelines.append(timeline)
            print(f"  job {i + 1}: publish -> paid {timeline.between('published', 'paid'):.2f} s",
                  flush=True)
        nursery.cancel_scope.cancel()
    return timelines


async def concurrent(network: LocalNetwork, settings: dict[str, float], m: int,
                     first_input: int) -> tuple[list[Outcome], float]:
    outcomes: list[Outcome] = []
    async with delegator_services(network, settings) as services, \
            trio.open_nursery() as nursery:
        delegator = Delegator(services)
        await nursery.start(delegator.run)
        started = time.monotonic()

        async def one(i: int) -> None:
            outcomes.append(await delegator.delegate(spec(first_input + i), lambda *_: None))

        async with trio.open_nursery() as jobs:
            for i in range(m):
                jobs.start_soon(one, i)
        nursery.cancel_scope.cancel()
        return outcomes, time.monotonic() - started


def delegator_services(network: LocalNetwork, settings: dict[str, float]) -> Any:
    os.environ.update(network.env(DELEGATOR))
    config = load_config(network.config_path, os.environ,
                         {"node.data_dir": str(network.data_dir("delegator")),
                          "p2p.bootstrap": [node.address for node in network.nodes
                                            if node.process.poll() is None],
                          **settings})
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


def start_nodes(network: LocalNetwork, name: str, settings: dict[str, float]) -> None:
    """A validator and two executors with `settings`, after stopping the running ones."""
    for node in network.nodes:
        node.stop()
    network.nodes.clear()
    text = {key: str(value) for key, value in settings.items()}
    network.start("validate", f"validator-{name}", VALIDATOR, settings=text)
    for executor, account in (("executor-1", EXECUTOR_1), ("executor-2", EXECUTOR_2)):
        network.start("serve", f"{executor}-{name}", account, settings=text)


def p90(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=10, method="inclusive")[-1]


def latency_figures(timelines: list[Timeline]) -> dict[str, float]:
    def median_between(first: str, last: str) -> float:
        return statistics.median(t.between(first, last) for t in timelines)

    return {"publish -> paid, median": median_between("published", "paid"),
            "publish -> paid, p90": p90([t.between("published", "paid") for t in timelines]),
            "  publish -> first bid": median_between("published", "bid"),
            "  first bid -> assigned": median_between("bid", "assigned"),
            "  assigned -> paid (run, witness, fact, submit, event)":
                median_between("assigned", "paid")}


def measure(network: LocalNetwork, name: str, args: argparse.Namespace,
            first_input: int) -> dict[str, float]:
    """Start the nodes with the `name` settings; their latency and throughput figures."""
    settings = SETTINGS[name]
    start_nodes(network, name, settings)
    print(f"{name} {settings or '(local network defaults)'}; load {os.getloadavg()}", flush=True)
    timelines = trio.run(sequential, network, settings, args.sequential, first_input)
    figures = latency_figures(timelines)
    outcomes, wall = trio.run(concurrent, network, settings, args.concurrent, first_input + 50)
    paid = sum(outcome.state == "paid" for outcome in outcomes)
    figures[f"{args.concurrent} jobs at once, jobs paid per minute"] = paid / wall * 60
    print(f"  {args.concurrent} jobs at once: {paid} paid in {wall:.1f} s", flush=True)
    return figures


def report(results: dict[str, dict[str, float]], floor: float) -> None:
    now = results["now"]
    before = results.get("before", {})
    print(f"{'figure':58} {'before':>8} {'now':>8} {'ratio':>7}")
    for figure in now:
        old = before.get(figure, float("nan"))
        ratio = now[figure] / old if old else float("nan")
        unit = "" if "per minute" in figure else " s"
        print(f"{figure:58} {old:7.2f}{unit:2} {now[figure]:7.2f}{unit:2} {ratio:6.2f}x")
    latency = now["publish -> paid, median"]
    throughput = now[next(f for f in now if "per minute" in f)]
    print(f"goals: latency {latency:.2f} s (<= {GOAL_LATENCY_S} s), {latency / floor:.1f}x the "
          f"chain floor of {floor:.2f} s; throughput {throughput:.1f} jobs/min "
          f"(>= {GOAL_JOBS_PER_MIN})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequential", type=int, default=5)
    parser.add_argument("--concurrent", type=int, default=12)
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS),
                        help="settings to measure (default: all; 'now' alone skips the baseline)")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="e2e-bench-") as work, \
            LocalNetwork(Path(work), accounts=4) as network:
        network.deposit(DELEGATOR, 10**18)
        floor = statistics.median(asyncio.run(chain_floor(network)))
        print(f"chain floor, 2 estimated transactions: median {floor:.2f} s", flush=True)
        results = {name: measure(network, name, args, 10 + 100 * index)
                   for index, name in enumerate(SETTINGS) if name in args.settings}
        report(results, floor)
    print(f"load average at end: {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
