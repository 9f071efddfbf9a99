"""submit_witness on the devnet: each refusal reverts on chain with its exact message and moves
no balance; a valid witness is paid exactly once and announced with its output. The digest path
(`submit_witness_digest`, output volumes) shares the checks and pays on `poseidon(output)`."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import pytest
from starknet_py.cairo.felt import encode_shortstring

from cairo_jobs.facts import fact_hash, output_digest
from devnet.check import FEE_TOKEN
from p2p.messages import Assignment, JobHeader, SignedAssignment, SignedJobHeader
from p2p.signing import assignment_hash, job_hash
from p2p.stark import StarkKeyPair
from registry_contract.client import Refusal, Refused, RegistryClient
from registry_contract.deploy import deploy
from registry_contract.events import JobCompleted, registry_events_in
from tests.registry_contract.conftest import (
    FIXED_BOUNDS,
    MIN_SECURITY_BITS,
    Party,
    World,
    token_balances,
)

OUTPUT = (1, 2, 3, 2**200)
ESCROW = 10**17


@dataclass(frozen=True)
class Balances:
    escrow: int
    registry_tokens: int
    executor_tokens: int


async def balances(world: World, executor: Party) -> Balances:
    escrow = await world.delegator.registry.balance_of()
    registry_tokens, executor_tokens = await token_balances(
        executor.account, [world.deployment.registry, executor.address]
    )
    return Balances(escrow, registry_tokens, executor_tokens)


@pytest.fixture(scope="module")
def funded(world: World) -> World:
    asyncio.run(world.delegator.registry.deposit(ESCROW))
    return world


def register(
    world: World, header: JobHeader, output: Sequence[int] = OUTPUT, bits: int = 128
) -> None:
    fact = fact_hash(header.program_hash, list(output))
    asyncio.run(world.delegator.facts.register_fact(fact, bits))


def refusal_on_chain(
    world: World,
    executor: Party,
    signed: SignedJobHeader,
    output: Sequence[int] = OUTPUT,
    assignment: SignedAssignment | None = None,
    digest: int | None = None,
) -> Refusal:
    """Submit with fixed bounds (so it reverts on chain); check only the fee was paid.

    With `digest`, submit on the digest path (`submit_witness_digest`) instead of `output`.
    """

    async def submit() -> Refusal:
        before = await balances(world, executor)
        with pytest.raises(Refused) as caught:
            if digest is None:
                await executor.registry.submit_witness(signed, output, assignment)
            else:
                await executor.registry.submit_witness_digest(signed, digest, assignment)
        assert caught.value.transaction_hash is not None
        receipt = await executor.account.client.get_transaction_receipt(
            caught.value.transaction_hash
        )
        after = await balances(world, executor)
        fee = receipt.actual_fee.amount
        assert fee > 0
        assert after == Balances(
            before.escrow, before.registry_tokens, before.executor_tokens - fee
        )
        return caught.value.refusal

    return asyncio.run(submit())


def test_on_chain_hashes_equal_the_p2p_ones(world: World) -> None:
    rng = random.Random(6)
    felt = lambda: rng.randrange(2**251)  # noqa: E731
    for _ in range(6):
        header = JobHeader(
            felt(),
            felt(),
            felt(),
            rng.randbytes(32),
            felt(),
            rng.randrange(2**64),
            rng.randrange(2**256),
            rng.randrange(2**64),
            felt(),
        )
        assignment = Assignment(felt(), felt(), rng.randrange(2**64), rng.randrange(2**64))
        registry = world.delegator.registry
        assert asyncio.run(registry.job_hash(header)) == job_hash(header)
        assert asyncio.run(
            registry.assignment_hash(assignment, header.chain_id, header.delegator)
        ) == assignment_hash(assignment, header.chain_id, header.delegator)


def test_valid_witness_is_paid_once_and_announced(funded: World) -> None:
    world, executor = funded, funded.executor
    header = world.header()
    register(world, header)
    signed = world.sign(header)
    before = asyncio.run(balances(world, executor))
    receipt = asyncio.run(executor.registry.submit_witness(signed, OUTPUT))
    after = asyncio.run(balances(world, executor))
    fee = receipt.actual_fee.amount
    assert after == Balances(
        before.escrow - header.reward,
        before.registry_tokens - header.reward,
        before.executor_tokens + header.reward - fee,
    )
    assert registry_events_in(receipt.events, world.deployment.registry) == [
        JobCompleted(
            job_hash=job_hash(header),
            delegator=world.delegator.address,
            executor=executor.address,
            reward=header.reward,
            output=OUTPUT,
            output_digest=output_digest(OUTPUT),
        )
    ]
    state = asyncio.run(executor.registry.job_state(job_hash(header)))
    assert state.paid and state.executor == executor.address and state.paid_at > 0
    assert refusal_on_chain(world, executor, signed) == Refusal.ALREADY_PAID
    assert refusal_on_chain(world, world.other, signed) == Refusal.ALREADY_PAID


def test_refusal_at_estimation_sends_nothing(funded: World) -> None:
    executor = funded.executor
    estimating = RegistryClient(
        executor.account, funded.deployment.registry, funded.deployment.token
    )
    nonce = asyncio.run(executor.account.get_nonce())
    with pytest.raises(Refused) as caught:
        asyncio.run(estimating.submit_witness(funded.sign(funded.header()), OUTPUT))
    assert caught.value.refusal == Refusal.UNKNOWN_FACT
    assert caught.value.transaction_hash is None
    assert asyncio.run(executor.account.get_nonce()) == nonce


def test_header_for_another_chain_is_refused(funded: World) -> None:
    header = funded.header(chain_id=encode_shortstring("SN_MAIN"))
    register(funded, header)
    signed = funded.sign(header)
    assert refusal_on_chain(funded, funded.executor, signed) == Refusal.WRONG_CHAIN


def test_header_for_another_registry_is_refused(funded: World) -> None:
    header = funded.header(registry=funded.deployment.fact_registry)
    register(funded, header)
    signed = funded.sign(header)
    assert refusal_on_chain(funded, funded.executor, signed) == Refusal.WRONG_REGISTRY


def test_header_signed_by_another_key_is_refused(funded: World) -> None:
    header = funded.header()
    register(funded, header)
    forged = funded.sign(header, StarkKeyPair.generate())
    assert refusal_on_chain(funded, funded.executor, forged) == Refusal.BAD_SIGNATURE


def test_header_with_changed_reward_is_refused(funded: World) -> None:
    header = funded.header()
    register(funded, header)
    signed = funded.sign(header)
    raised = SignedJobHeader(
        funded.header(**{**vars(header), "reward": header.reward * 2}), signed.signature
    )
    assert refusal_on_chain(funded, funded.executor, raised) == Refusal.BAD_SIGNATURE


def test_witness_after_the_deadline_is_refused(funded: World) -> None:
    header = funded.header(deadline=int(time.time()) - 60)
    register(funded, header)
    assert refusal_on_chain(funded, funded.executor, funded.sign(header)) == (
        Refusal.DEADLINE_PASSED
    )


def test_other_executor_inside_the_window_is_refused(funded: World) -> None:
    header = funded.header()
    register(funded, header)
    assignment = funded.assign(header, funded.executor.address, int(time.time()) + 3600)
    refusal = refusal_on_chain(funded, funded.other, funded.sign(header), assignment=assignment)
    assert refusal == Refusal.ASSIGNED_TO_OTHER


def test_assignment_not_signed_by_the_delegator_is_refused(funded: World) -> None:
    header = funded.header()
    register(funded, header)
    assignment = funded.assign(
        header, funded.other.address, int(time.time()) + 3600, key=funded.other.key
    )
    refusal = refusal_on_chain(funded, funded.other, funded.sign(header), assignment=assignment)
    assert refusal == Refusal.BAD_ASSIGNMENT_SIGNATURE


def test_assignment_of_another_job_is_refused(funded: World) -> None:
    header = funded.header()
    register(funded, header)
    assignment = funded.assign(funded.header(), funded.other.address, int(time.time()) + 3600)
    refusal = refusal_on_chain(funded, funded.other, funded.sign(header), assignment=assignment)
    assert refusal == Refusal.WRONG_ASSIGNMENT_JOB


def test_output_without_a_fact_is_refused(funded: World) -> None:
    header = funded.header()
    register(funded, header)
    refusal = refusal_on_chain(funded, funded.executor, funded.sign(header), output=(1, 2, 4))
    assert refusal == Refusal.UNKNOWN_FACT


def test_fact_of_another_program_is_refused(funded: World) -> None:
    header = funded.header()
    register(funded, funded.header())  # the same output, another program hash
    refusal = refusal_on_chain(funded, funded.executor, funded.sign(header))
    assert refusal == Refusal.UNKNOWN_FACT


def test_fact_below_the_minimum_security_is_refused(funded: World) -> None:
    header = funded.header()
    register(funded, header, bits=MIN_SECURITY_BITS - 1)
    refusal = refusal_on_chain(funded, funded.executor, funded.sign(header))
    assert refusal == Refusal.WEAK_FACT


def test_fact_verified_by_re_execution_is_weak_under_a_minimum(funded: World) -> None:
    header = funded.header()
    register(funded, header, bits=0)
    refusal = refusal_on_chain(funded, funded.executor, funded.sign(header))
    assert refusal == Refusal.WEAK_FACT


@pytest.fixture(scope="module")
def trusting(funded: World) -> World:
    """The world with a second Registry on the same FactRegistry that asks for 0 bits, funded."""

    async def deploy_and_fund() -> World:
        owner = funded.delegator.account
        deployment = await deploy(
            owner, FEE_TOKEN, min_security_bits=0, fact_registry=funded.deployment.fact_registry
        )
        parties = [
            replace(party, registry=RegistryClient(
                party.account, deployment.registry, deployment.token, FIXED_BOUNDS
            ))
            for party in (funded.delegator, funded.executor, funded.other)
        ]
        await parties[0].registry.deposit(ESCROW)
        return replace(funded, deployment=deployment, delegator=parties[0],
                       executor=parties[1], other=parties[2])

    return asyncio.run(deploy_and_fund())


def test_registry_without_a_minimum_pays_a_re_executed_fact(trusting: World) -> None:
    world, executor = trusting, trusting.executor
    assert asyncio.run(executor.registry.setting("min_security_bits")) == 0
    header = world.header()
    register(world, header, bits=0)
    before = asyncio.run(balances(world, executor))
    receipt = asyncio.run(executor.registry.submit_witness(world.sign(header), OUTPUT))
    after = asyncio.run(balances(world, executor))
    assert after == Balances(
        before.escrow - header.reward,
        before.registry_tokens - header.reward,
        before.executor_tokens + header.reward - receipt.actual_fee.amount,
    )
    assert asyncio.run(executor.registry.job_state(job_hash(header))).executor == executor.address


def test_registry_without_a_minimum_refuses_an_unknown_fact(trusting: World) -> None:
    header = trusting.header()
    register(trusting, header)
    refusal = refusal_on_chain(trusting, trusting.executor, trusting.sign(header), output=(9,))
    assert refusal == Refusal.UNKNOWN_FACT


def test_reward_above_the_escrow_is_refused(funded: World) -> None:
    header = funded.header(reward=ESCROW * 10)
    register(funded, header)
    refusal = refusal_on_chain(funded, funded.executor, funded.sign(header))
    assert refusal == Refusal.ESCROW_TOO_LOW


def test_assigned_executor_is_paid_inside_the_window(funded: World) -> None:
    header = funded.header()
    register(funded, header)
    assignment = funded.assign(header, funded.executor.address, int(time.time()) + 3600)
    asyncio.run(funded.executor.registry.submit_witness(funded.sign(header), OUTPUT, assignment))
    state = asyncio.run(funded.executor.registry.job_state(job_hash(header)))
    assert state.executor == funded.executor.address


def test_anyone_is_paid_after_the_window(funded: World) -> None:
    header = funded.header()
    register(funded, header)
    assignment = funded.assign(header, funded.executor.address, int(time.time()) - 60)
    asyncio.run(funded.other.registry.submit_witness(funded.sign(header), OUTPUT, assignment))
    state = asyncio.run(funded.other.registry.job_state(job_hash(header)))
    assert state.executor == funded.other.address


def test_witness_paid_on_its_digest_shows_no_output(funded: World) -> None:
    world, executor = funded, funded.executor
    header = world.header()
    register(world, header)
    signed = world.sign(header)
    assignment = world.assign(header, executor.address, int(time.time()) + 3600)
    before = asyncio.run(balances(world, executor))
    receipt = asyncio.run(
        executor.registry.submit_witness_digest(signed, output_digest(OUTPUT), assignment)
    )
    after = asyncio.run(balances(world, executor))
    assert after == Balances(
        before.escrow - header.reward,
        before.registry_tokens - header.reward,
        before.executor_tokens + header.reward - receipt.actual_fee.amount,
    )
    assert registry_events_in(receipt.events, world.deployment.registry) == [
        JobCompleted(job_hash=job_hash(header), delegator=world.delegator.address,
                     executor=executor.address, reward=header.reward, output=(),
                     output_digest=output_digest(OUTPUT))
    ]
    assert refusal_on_chain(world, executor, signed) == Refusal.ALREADY_PAID


def test_digest_path_refuses_a_wrong_digest(funded: World) -> None:
    header = funded.header()
    register(funded, header)
    signed = funded.sign(header)
    for wrong in (output_digest(OUTPUT[:-1]), fact_hash(header.program_hash, OUTPUT)):
        refusal = refusal_on_chain(funded, funded.executor, signed, digest=wrong)
        assert refusal == Refusal.UNKNOWN_FACT


def test_digest_path_makes_the_same_checks(funded: World) -> None:
    header = funded.header()
    register(funded, header)
    digest = output_digest(OUTPUT)
    forged = funded.sign(header, StarkKeyPair.generate())
    assert refusal_on_chain(funded, funded.executor, forged, digest=digest) == (
        Refusal.BAD_SIGNATURE)
    assignment = funded.assign(header, funded.executor.address, int(time.time()) + 3600)
    refusal = refusal_on_chain(funded, funded.other, funded.sign(header), assignment=assignment,
                               digest=digest)
    assert refusal == Refusal.ASSIGNED_TO_OTHER
    weak = funded.header()
    register(funded, weak, bits=MIN_SECURITY_BITS - 1)
    assert refusal_on_chain(funded, funded.executor, funded.sign(weak), digest=digest) == (
        Refusal.WEAK_FACT)
