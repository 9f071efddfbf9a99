"""Registry costs on the devnet: L2 gas, L1 data gas and latency of its transactions.

Starts a devnet, deploys the FactRegistry and Registry, then per round sends (all with fixed
bounds, so each is one Cairo run): a fee-token transfer (the baseline: an account's own overhead
plus one ERC20 transfer), a deposit (approve + deposit in one multicall), submit_witness with
outputs of 4, 64 and 256 felts, without and with a signed assignment, submit_witness_digest (the
output volumes' path: the digest of a 4096-felt output), a stake (approve + stake), and
cheat reports: two contradicting replies (no hashing), and a reply contradicted by a fact for
requests and outputs of 1 and 3 felts (SHA-256 of 1 and 2 blocks each, in Cairo). Figures come
from the receipts; the "net" column subtracts the baseline transfer's L2 gas.

    .venv/bin/python bench/registry_gas.py [--rounds 5]

Receipts of JSON-RPC 0.10 report gas, not Cairo steps; L2 gas is the Sierra gas the execution
consumed (about 100 per Cairo step plus builtin costs).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starknet_py.hash.selector import get_selector_from_name
from starknet_py.net.account.account import Account
from starknet_py.net.client_models import (
    Call,
    ResourceBounds,
    ResourceBoundsMapping,
    TransactionReceipt,
)
from starknet_py.net.full_node_client import FullNodeClient
from starknet_py.net.signer.key_pair import KeyPair

from cairo_jobs.facts import fact_hash, output_digest
from devnet.check import FEE_TOKEN
from devnet.spawn import DevnetProcess
from p2p.messages import (
    Assignment,
    CheatReport,
    JobHeader,
    SignedStreamReply,
    StreamReply,
    StreamSession,
    felts_digest,
)
from p2p.signing import job_hash, sign_assignment, sign_header, sign_reply, sign_session
from p2p.stark import StarkKeyPair
from registry_contract import TX_POLL_INTERVAL_S
from registry_contract.client import FactRegistryClient, RegistryClient, send
from registry_contract.deploy import deploy

BOUNDS = ResourceBoundsMapping(
    l1_gas=ResourceBounds(max_amount=0, max_price_per_unit=10**12),
    l1_data_gas=ResourceBounds(max_amount=10**4, max_price_per_unit=10**10),
    l2_gas=ResourceBounds(max_amount=10**8, max_price_per_unit=10**10),
)
"""Fixed bounds: each transaction is one Cairo run (no estimate)."""


@dataclass
class Samples:
    l2_gas: list[int]
    l1_data_gas: list[int]
    latency_ms: list[float]


@dataclass
class Parties:
    delegator: Account
    key: StarkKeyPair
    executor: RegistryClient
    executor_key: StarkKeyPair
    registry: RegistryClient
    facts: FactRegistryClient
    chain_id: int


def account_of(url: str, chain_id: int, info: dict[str, str]) -> tuple[Account, StarkKeyPair]:
    key = StarkKeyPair.from_private_key(int(info["private_key"], 16))
    account = Account(client=FullNodeClient(node_url=url), address=int(info["address"], 16),
                      key_pair=KeyPair.from_private_key(key.private_key), chain=chain_id)
    return account, key


async def setup(devnet: DevnetProcess) -> Parties:
    chain_id = int(devnet.info["chain_id"], 16)
    delegator, key = account_of(devnet.url, chain_id, devnet.info["accounts"][0])
    executor, executor_key = account_of(devnet.url, chain_id, devnet.info["accounts"][1])
    deployment = await deploy(delegator, FEE_TOKEN, withdrawal_delay=3600)
    facts = FactRegistryClient(delegator, deployment.fact_registry, BOUNDS)
    await facts.add_verifier(delegator.address)
    registry = RegistryClient(delegator, deployment.registry, FEE_TOKEN, BOUNDS)
    await registry.deposit(10**18)
    return Parties(delegator, key,
                   RegistryClient(executor, deployment.registry, FEE_TOKEN, BOUNDS), executor_key,
                   registry, facts, chain_id)


Measured = tuple[TransactionReceipt, float]
"""A receipt and the latency (ms) from sending to receipt."""


async def timed(action: Awaitable[TransactionReceipt]) -> Measured:
    started = time.perf_counter()
    receipt = await action
    return receipt, (time.perf_counter() - started) * 1000


async def transfer(parties: Parties) -> Measured:
    call = Call(to_addr=FEE_TOKEN, selector=get_selector_from_name("transfer"),
                calldata=[secrets.randbits(200), 1, 0])
    return await timed(send(parties.delegator, [call], BOUNDS))


def random_header(parties: Parties) -> JobHeader:
    return JobHeader(parties.chain_id, parties.registry.address, parties.delegator.address,
                     secrets.token_bytes(32), secrets.randbits(250), 10**6, 10**12, 2**40,
                     secrets.randbits(64))


def submission(parties: Parties, outputs: int, assigned: bool,
               on_digest: bool = False) -> Callable[[], Awaitable[Measured]]:
    """A fresh job whose fact is registered first (not timed), then its witness submitted
    (with its output, or `on_digest` with the output's digest alone)."""

    async def submit() -> Measured:
        header = random_header(parties)
        output = [secrets.randbits(250) for _ in range(outputs)]
        await parties.facts.register_fact(fact_hash(header.program_hash, output), 128)
        assignment = None
        if assigned:
            assignment = sign_assignment(
                Assignment(job_hash(header), parties.executor.account.address, 2**40, 0),
                parties.chain_id, parties.delegator.address, parties.key)
        signed = sign_header(header, parties.key)
        if on_digest:
            return await timed(parties.executor.submit_witness_digest(
                signed, output_digest(output), assignment))
        return await timed(parties.executor.submit_witness(signed, output, assignment))

    return submit


def cheat_report(parties: Parties, felts: int | None) -> Callable[[], Awaitable[Measured]]:
    """A fresh job and session of the executor, whose reply to a request of `felts` felts is
    contradicted by a registered fact (its fact registered first, not timed), or, for None, by
    a second reply of the session; the delegator reports it."""

    async def report() -> Measured:
        header = random_header(parties)
        session_key = StarkKeyPair.generate()
        session = StreamSession(job_hash(header), parties.executor.account.address,
                                session_key.public_key, 2**40)

        def reply(request: list[int], output: list[int]) -> SignedStreamReply:
            statement = StreamReply(session.job_hash, 1, 2, felts_digest(request),
                                    felts_digest(output))
            return sign_reply(statement, parties.chain_id, session.executor, session_key)

        request = [secrets.randbits(250) for _ in range(felts or 1)]
        truth = [secrets.randbits(250) for _ in range(felts or 1)]
        lie = reply(request, [value + 1 for value in truth])
        evidence = {"header": sign_header(header, parties.key),
                    "session": sign_session(session, parties.chain_id, parties.executor_key),
                    "reply": lie}
        if felts is None:
            cheat = CheatReport(**evidence, fact_output=(), other_reply=reply(request, truth))
        else:
            output = (len(request), *request, *truth)
            await parties.facts.register_fact(fact_hash(header.program_hash, output), 128)
            cheat = CheatReport(**evidence, fact_output=output, other_reply=None)
        return await timed(parties.registry.report_cheat(cheat))

    return report


async def bench(devnet: DevnetProcess, rounds: int) -> dict[str, Samples]:
    parties = await setup(devnet)
    workloads: dict[str, Callable[[], Awaitable[Measured]]] = {
        "transfer (baseline)": lambda: transfer(parties),
        "deposit (approve + deposit)": lambda: timed(parties.registry.deposit(10**15)),
        "submit_witness, 4 outputs": submission(parties, 4, False),
        "submit_witness, 64 outputs": submission(parties, 64, False),
        "submit_witness, 4 outputs, assigned": submission(parties, 4, True),
        "submit_witness, 256 outputs": submission(parties, 256, False),
        "submit_witness_digest, 4096 outputs": submission(parties, 4096, False, True),
        "submit_witness_digest, 4096, assigned": submission(parties, 4096, True, True),
        "stake (approve + stake)": lambda: timed(parties.executor.stake(10**15)),
        "report_contradiction": cheat_report(parties, None),
        "report_cheat, 1-felt request": cheat_report(parties, 1),
        "report_cheat, 3-felt request": cheat_report(parties, 3),
    }
    results = {name: Samples([], [], []) for name in workloads}
    for _ in range(rounds):
        for name, action in workloads.items():
            receipt, latency_ms = await action()
            results[name].l2_gas.append(receipt.execution_resources.l2_gas)
            results[name].l1_data_gas.append(receipt.execution_resources.l1_data_gas)
            results[name].latency_ms.append(latency_ms)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with DevnetProcess("--accounts", "2") as devnet:
        results = asyncio.run(bench(devnet, args.rounds))
    baseline = statistics.median(results["transfer (baseline)"].l2_gas)
    print(f"{'transaction':38} {'L2 gas':>10} {'net L2 gas':>11} {'x transfer':>10} "
          f"{'L1 data gas':>11} {'latency ms':>10}")
    for name, samples in results.items():
        l2 = statistics.median(samples.l2_gas)
        print(f"{name:38} {l2:10,.0f} {l2 - baseline:11,.0f} {l2 / baseline:10.2f} "
              f"{statistics.median(samples.l1_data_gas):11,.0f} "
              f"{statistics.median(samples.latency_ms):10.0f}")
    print(f"rounds={args.rounds}; medians; poll interval {TX_POLL_INTERVAL_S}s")


if __name__ == "__main__":
    main()
