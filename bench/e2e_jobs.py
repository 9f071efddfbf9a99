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
submit_witness). `--baseline-ref REV` also runs this script against another commit's code (a
temporary copy of its files, removed afterwards) and compares. `--profile` shows where the time of
the concurrent jobs goes: the devnet's requests by method, each process's CPU time, each job's
steps from the nodes' logs.

    .venv/bin/python bench/e2e_jobs.py [--sequential 5] [--concurrent 12] [--profile]
        [--baseline-ref REV]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import trio
from baseline import source_tree
from e2e_profile import RpcCounter, cpu_seconds, node_stamps

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
        self.started_unix = time.time()
        self.at: dict[str, float] = {}
        self.job = 0

    def __call__(self, step: str, details: dict[str, Any]) -> None:
        self.at.setdefault(step, time.monotonic() - self.started)
        if step == "published":
            self.job = int(details["job"], 16)

    def between(self, first: str, last: str) -> float:
        return self.at[last] - self.at[first]


def spec(n: int, deadline_s: float = 600) -> JobSpec:
    return JobSpec(program=compiled("fibonacci"), program_input=f'{{"n": {n}}}'.encode(),
                   layout="small", reward=REWARD, deadline=int(time.time() + deadline_s),
                   max_steps=100_000)


async def sequential(network: LocalNetwork, settings: dict[str, float], n: int,
                     first_input: int, deadline_s: float) -> list[Timeline]:
    timelines = []
    async with delegator_services(network, settings) as services, \
            trio.open_nursery() as nursery:
        delegator = Delegator(services)
        await nursery.start(delegator.run)
        for i in range(n):
            timeline = Timeline()
            outcome = await delegator.delegate(spec(first_input + i, deadline_s), timeline)
            if outcome.state != "paid":
                print(f"  job {i + 1}: {outcome.state}, left out of the figures", flush=True)
                continue
            timelines.append(timeline)
            print(f"  job {i + 1}: publish -> paid {timeline.between('published', 'paid'):.2f} s",
                  flush=True)
        nursery.cancel_scope.cancel()
    return timelines


async def concurrent(network: LocalNetwork, settings: dict[str, float], m: int,
                     first_input: int, deadline_s: float
                     ) -> tuple[list[Outcome], list[Timeline], float]:
    outcomes: list[Outcome] = []
    timelines: list[Timeline] = []
    async with delegator_services(network, settings) as services, \
            trio.open_nursery() as nursery:
        delegator = Delegator(services)
        await nursery.start(delegator.run)
        started = time.monotonic()

        async def one(i: int) -> None:
            timeline = Timeline()
            timelines.append(timeline)
            outcomes.append(await delegator.delegate(spec(first_input + i, deadline_s),
                                                     timeline))

        async with trio.open_nursery() as jobs:
            for i in range(m):
                jobs.start_soon(one, i)
        nursery.cancel_scope.cancel()
        return outcomes, timelines, time.monotonic() - started


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
    """A validator and two executors with `settings` (logging JSON), after stopping the
    running ones."""
    for node in network.nodes:
        node.stop()
    network.nodes.clear()
    text = {"node.log_format": "json", **{key: str(value) for key, value in settings.items()}}
    network.start("validate", f"validator-{name}", VALIDATOR, settings=text)
    for executor, account in (("executor-1", EXECUTOR_1), ("executor-2", EXECUTOR_2)):
        network.start("serve", f"{executor}-{name}", account, settings=text)


def p90(samples: list[float]) -> float:
    """The 90th percentile (the sample itself when there is one)."""
    if len(samples) < 2:
        return samples[0]
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


def measure(network: LocalNetwork, name: str, args: argparse.Namespace, first_input: int,
            counter: RpcCounter | None) -> dict[str, float]:
    """Start the nodes with the `name` settings; their latency and throughput figures (and,
    with a `counter`, where the concurrent jobs' time went)."""
    settings = SETTINGS[name]
    start_nodes(network, name, settings)
    print(f"{name} {settings or '(local network defaults)'}; load {os.getloadavg()}", flush=True)
    timelines = trio.run(sequential, network, settings, args.sequential, first_input,
                         args.deadline)
    if not timelines:
        raise SystemExit(f"{name}: no job of the sequential phase was paid")
    figures = latency_figures(timelines)
    cpu_before = cpu_times(network)
    requests_before = counter.counts() if counter is not None else {}
    outcomes, jobs, wall = trio.run(concurrent, network, settings, args.concurrent,
                                    first_input + 50, args.deadline)
    paid = sum(outcome.state == "paid" for outcome in outcomes)
    figures[f"{args.concurrent} jobs at once, jobs paid per minute"] = paid / wall * 60
    print(f"  {args.concurrent} jobs at once: {paid} paid in {wall:.1f} s; load "
          f"{os.getloadavg()}", flush=True)
    if counter is not None:
        show_profile(network, counter, requests_before, cpu_before, jobs, wall)
    return figures


def cpu_times(network: LocalNetwork) -> dict[str, float]:
    """CPU seconds so far of each process: the devnet, each node (with its Cairo workers) and
    this one (the delegator; the RPC counter is a process of its own, not counted)."""
    assert network.devnet is not None
    times = {node.name: cpu_seconds(node.process.pid) for node in network.nodes}
    times["devnet"] = cpu_seconds(network.devnet.process.pid)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    times["delegator (bench)"] = usage.ru_utime + usage.ru_stime
    return times


STEPS = {"witness verified": "verified", "witness checked": "registered", "job paid": "paid"}
"""Log messages of the nodes that are steps of a job (besides job store transitions)."""

SEGMENTS = (
    ("publish -> executor bids (header, admission)", "delegator:published", "executor:bidding"),
    ("executor bids -> delegator sees first bid", "executor:bidding", "delegator:bid"),
    ("first bid -> assigned (bid window)", "delegator:bid", "delegator:assigned"),
    ("assigned -> body fetched", "delegator:assigned", "executor:running"),
    ("body fetched -> run done, witness offered", "executor:running", "executor:proving"),
    ("witness offered -> validator verified", "executor:proving", "validator:verified"),
    ("verified -> fact registered (tx)", "validator:verified", "validator:registered"),
    ("fact registered -> executor sees it", "validator:registered", "executor:submitted"),
    ("executor submits -> paid (tx)", "executor:submitted", "executor:paid"),
    ("paid -> delegator sees JobCompleted", "executor:paid", "delegator:paid"),
)
"""The steps of a job, across processes: (label, from, to) as `role:step`."""


def show_profile(network: LocalNetwork, counter: RpcCounter,
                 requests_before: dict[str, tuple[int, float]], cpu_before: dict[str, float],
                 jobs: list[Timeline], wall: float) -> None:
    """Print the devnet's requests, the processes' CPU and the jobs' steps (medians)."""
    n = len(jobs)
    print(f"  devnet requests during the {n} jobs ({wall:.1f} s):", flush=True)
    requests = {method: (count - requests_before.get(method, (0, 0.0))[0],
                         seconds - requests_before.get(method, (0, 0.0))[1])
                for method, (count, seconds) in counter.counts().items()}
    for method, (count, seconds) in sorted(requests.items(), key=lambda item: -item[1][0]):
        if not count:
            continue
        print(f"    {method:44} {count:5} ({count / n:5.1f} a job, {count / wall:5.1f}/s), "
              f"answered in {seconds:6.1f} s total, {seconds / count * 1000:6.0f} ms each")
    cpu_after = cpu_times(network)
    print("  CPU seconds during the jobs (share of the wall time):")
    for name, after in cpu_after.items():
        used = after - cpu_before.get(name, 0.0)
        print(f"    {name:28} {used:6.1f} s ({used / wall:4.0%})")
    stamps = job_stamps(network, jobs)
    print("  job steps, median (p90) over the jobs:")
    for label, first, last in SEGMENTS:
        spans = [s[last] - s[first] for s in stamps if first in s and last in s]
        if spans:
            print(f"    {label:48} {statistics.median(spans):5.2f} s ({p90(spans):5.2f} s)")
    executors = Counter(s.get("executor") for s in stamps)
    print(f"  jobs per executor: {dict(executors)}", flush=True)


def job_stamps(network: LocalNetwork, jobs: list[Timeline]) -> list[dict[str, Any]]:
    """For each job, the Unix time of each `role:step` (and the executor that was paid)."""
    logs = {node.name: node_stamps(node.log().splitlines(), STEPS) for node in network.nodes}
    stamped = []
    for timeline in jobs:
        at: dict[str, Any] = {f"delegator:{step}": timeline.started_unix + seconds
                              for step, seconds in timeline.at.items()}
        at.update({f"validator:{step}": t for name, found in logs.items()
                   if name.startswith("validator") for step, t in found[timeline.job].items()})
        for name, found in logs.items():
            if name.startswith("executor") and "paid" in found.get(timeline.job, {}):
                at.update({f"executor:{step}": t for step, t in found[timeline.job].items()})
                at["executor"] = name
        stamped.append(at)
    return stamped


def report(results: dict[str, dict[str, float]], floor: float) -> None:
    """One column per measured setting, and `now`'s ratio to the first other one (when one
    was measured: `--settings now` alone shows its own figures only)."""
    names = list(results)
    base = next((name for name in names if name != "now"), None)
    shown = "now" if "now" in results else names[-1]
    ratio = base is not None and shown == "now"
    print(f"{'figure':58}" + "".join(f" {name[:12]:>12}" for name in names)
          + (f" {'ratio':>7}" if ratio else ""))
    for figure in results[shown]:
        unit = "" if "per minute" in figure else " s"
        row = "".join(f" {results[name][figure]:10.2f}{unit:2}" for name in names)
        if ratio and results[base][figure]:
            row += f" {results['now'][figure] / results[base][figure]:6.2f}x"
        print(f"{figure:58}{row}")
    figures = results[shown]
    latency = figures["publish -> paid, median"]
    throughput = figures[next(f for f in figures if "per minute" in f)]
    print(f"goals ({shown}): latency {latency:.2f} s (<= {GOAL_LATENCY_S} s), "
          f"{latency / floor:.1f}x the chain floor of {floor:.2f} s; throughput "
          f"{throughput:.1f} jobs/min (>= {GOAL_JOBS_PER_MIN})", flush=True)


def run_at_ref(ref: str, args: argparse.Namespace) -> dict[str, float]:
    """This script's `now` figures with the node code of commit `ref` (its own local network,
    from a temporary copy of that commit's files)."""
    with source_tree(ref) as tree, tempfile.NamedTemporaryFile("r", suffix=".json") as out:
        subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--settings", "now",
             "--sequential", str(args.sequential), "--concurrent", str(args.concurrent),
             "--deadline", str(args.deadline),
             "--json-out", out.name, *(["--profile"] if args.profile else [])],
            cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, check=True, timeout=3600)
        return json.load(out)["now"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequential", type=int, default=5)
    parser.add_argument("--concurrent", type=int, default=12)
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS),
                        help="settings to measure (default: all; 'now' alone skips the baseline)")
    parser.add_argument("--baseline-ref", metavar="REV",
                        help="also measure `now` with the code of commit REV, first")
    parser.add_argument("--profile", action="store_true",
                        help="count the devnet's requests, the processes' CPU and the jobs' steps")
    parser.add_argument("--deadline", type=float, default=600,
                        help="seconds a job may take before it expires (unpaid)")
    parser.add_argument("--json-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}", flush=True)
    results: dict[str, dict[str, float]] = {}
    if args.baseline_ref:
        print(f"baseline: the code of {args.baseline_ref}", flush=True)
        results[args.baseline_ref] = run_at_ref(args.baseline_ref, args)
        print(f"now: the code of this tree; load {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="e2e-bench-") as work, ExitStack() as stack:
        network = stack.enter_context(LocalNetwork(Path(work), accounts=4))
        network.deposit(DELEGATOR, 10**18)
        floor = statistics.median(asyncio.run(chain_floor(network)))
        print(f"chain floor, 2 estimated transactions: median {floor:.2f} s", flush=True)
        counter = None
        if args.profile:
            counter = stack.enter_context(RpcCounter(network.url))
            text = network.config_path.read_text()
            network.config_path.write_text(text.replace(network.url, counter.url))
        results.update({name: measure(network, name, args, 10 + 100 * index, counter)
                        for index, name in enumerate(SETTINGS) if name in args.settings})
    if args.json_out:
        args.json_out.write_text(json.dumps(results))
    report(results, floor)
    print(f"load average at end: {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
