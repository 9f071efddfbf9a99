"""Deposits and two-step withdrawals on the devnet, and the FactRegistry's permissions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from cairo_jobs.facts import fact_hash
from registry_contract.client import Refusal, Refused
from registry_contract.events import Deposited, Withdrawn, registry_events_in
from tests.registry_contract.conftest import (
    WITHDRAWAL_DELAY_S,
    Party,
    World,
    create_block,
    token_balances,
)

OUTPUT = (7, 8, 9)


@dataclass(frozen=True)
class Holdings:
    escrow: int
    registry_tokens: int
    own_tokens: int


async def holdings(world: World, party: Party) -> Holdings:
    registry_tokens, own_tokens = await token_balances(
        party.account, [world.deployment.registry, party.address]
    )
    return Holdings(await party.registry.balance_of(), registry_tokens, own_tokens)


def refused(
    world: World, party: Party, action: Callable[[], Awaitable[Any]]
) -> tuple[Refusal, Holdings, Holdings]:
    """Run a refused transaction; return the refusal and the holdings before and after, fee
    added back (the refused transaction reverted on chain and only paid its fee)."""

    async def run() -> tuple[Refusal, Holdings, Holdings]:
        before = await holdings(world, party)
        with pytest.raises(Refused) as caught:
            await action()
        receipt = await party.account.client.get_transaction_receipt(caught.value.transaction_hash)
        after = await holdings(world, party)
        fee = receipt.actual_fee.amount
        return (
            caught.value.refusal,
            before,
            Holdings(after.escrow, after.registry_tokens, after.own_tokens + fee),
        )

    return asyncio.run(run())


def test_deposit_moves_tokens_into_the_escrow(world: World) -> None:
    party = world.other
    before = asyncio.run(holdings(world, party))
    receipt = asyncio.run(party.registry.deposit(5 * 10**15))
    after = asyncio.run(holdings(world, party))
    fee = receipt.actual_fee.amount
    assert after == Holdings(
        before.escrow + 5 * 10**15,
        before.registry_tokens + 5 * 10**15,
        before.own_tokens - 5 * 10**15 - fee,
    )
    assert registry_events_in(receipt.events, world.deployment.registry) == [
        Deposited(account=party.address, amount=5 * 10**15)
    ]


@pytest.mark.parametrize(
    "amount, refusal",
    [
        (0, Refusal.ZERO_AMOUNT),
        (2**200, Refusal.INSUFFICIENT_BALANCE),
    ],
)
def test_bad_deposit_is_refused(world: World, amount: int, refusal: Refusal) -> None:
    party = world.other
    got, before, after = refused(world, party, lambda: party.registry.deposit(amount))
    assert got == refusal
    assert after == before


def test_withdrawal_above_the_available_balance_is_refused(world: World) -> None:
    party = world.other
    escrow = asyncio.run(party.registry.balance_of())
    got, before, after = refused(
        world, party, lambda: party.registry.request_withdrawal(escrow + 1)
    )
    assert got == Refusal.AMOUNT_OVER_AVAILABLE
    assert after == before


def test_withdraw_without_a_request_is_refused(world: World) -> None:
    party = world.executor
    got, before, after = refused(world, party, party.registry.withdraw)
    assert got == Refusal.NOTHING_PENDING
    assert after == before


def test_withdrawal_waits_for_the_delay_and_jobs_stay_payable(world: World) -> None:
    """A requested amount stays in the escrow until the delay has passed, so a job accepted
    meanwhile is still paid; the withdrawal then pays what is left of the request."""
    party, registry = world.other, world.other.registry
    asyncio.run(registry.deposit(10**15))
    escrow = asyncio.run(registry.balance_of())
    create_block(world.devnet.url)  # stamp the request's block with the time now
    asyncio.run(registry.request_withdrawal(escrow))
    pending = asyncio.run(registry.pending_withdrawal())
    assert pending.amount == escrow and pending.unlock_at >= time.time() - 60 + WITHDRAWAL_DELAY_S
    assert asyncio.run(registry.available_balance()) == 0

    got, before, after = refused(world, party, registry.withdraw)
    assert got == Refusal.WITHDRAWAL_LOCKED
    assert after == before

    header = world.header(delegator=party.address, reward=10**14)
    asyncio.run(world.delegator.facts.register_fact(fact_hash(header.program_hash, OUTPUT), 128))
    asyncio.run(world.executor.registry.submit_witness(world.sign(header, party.key), OUTPUT))

    time.sleep(max(0.0, pending.unlock_at + 1 - time.time()))
    create_block(world.devnet.url)
    before = asyncio.run(holdings(world, party))
    receipt = asyncio.run(registry.withdraw())
    after = asyncio.run(holdings(world, party))
    paid = escrow - header.reward
    assert after == Holdings(
        0, before.registry_tokens - paid, before.own_tokens + paid - receipt.actual_fee.amount
    )
    assert registry_events_in(receipt.events, world.deployment.registry) == [
        Withdrawn(account=party.address, amount=paid)
    ]
    assert asyncio.run(registry.pending_withdrawal()).amount == 0


def test_fact_registry_keeps_the_strongest_verification(world: World) -> None:
    facts = world.delegator.facts
    fact = fact_hash(12345, OUTPUT)
    assert asyncio.run(facts.get_verification(fact)) == 0
    assert not asyncio.run(facts.is_valid(fact))
    asyncio.run(facts.register_fact(fact, 128))
    asyncio.run(facts.register_fact(fact, 100))
    assert asyncio.run(facts.get_verification(fact)) == 128
    assert asyncio.run(facts.is_valid(fact))


def test_fact_registry_knows_a_fact_verified_by_re_execution(world: World) -> None:
    facts = world.delegator.facts
    fact = fact_hash(54321, OUTPUT)
    asyncio.run(facts.register_fact(fact, 0))
    assert asyncio.run(facts.is_valid(fact))
    assert asyncio.run(facts.get_verification(fact)) == 0
    asyncio.run(facts.register_fact(fact, 100))
    asyncio.run(facts.register_fact(fact, 0))
    assert asyncio.run(facts.get_verification(fact)) == 100


@pytest.mark.parametrize(
    "who, action, refusal",
    [
        ("executor", lambda f: f.register_fact(99, 128), Refusal.NOT_A_VERIFIER),
        ("executor", lambda f: f.register_fact(99, 0), Refusal.NOT_A_VERIFIER),
        ("executor", lambda f: f.add_verifier(123), Refusal.NOT_THE_OWNER),
        ("executor", lambda f: f.remove_verifier(123), Refusal.NOT_THE_OWNER),
        ("delegator", lambda f: f.add_verifier(0), Refusal.ZERO_VERIFIER),
    ],
)
def test_fact_registry_refusals(
    world: World, who: str, action: Callable[[Any], Awaitable[Any]], refusal: Refusal
) -> None:
    party: Party = getattr(world, who)
    with pytest.raises(Refused) as caught:
        asyncio.run(action(party.facts))
    assert caught.value.refusal == refusal
    assert not asyncio.run(party.facts.is_valid(99))
    assert not asyncio.run(party.facts.is_verifier(123))


def test_removed_verifier_cannot_register(world: World) -> None:
    owner, verifier = world.delegator.facts, world.other
    asyncio.run(owner.add_verifier(verifier.address))
    asyncio.run(verifier.facts.register_fact(4242, 128))
    asyncio.run(owner.remove_verifier(verifier.address))
    with pytest.raises(Refused) as caught:
        asyncio.run(verifier.facts.register_fact(4343, 128))
    assert caught.value.refusal == Refusal.NOT_A_VERIFIER
    assert asyncio.run(owner.get_verification(4242)) == 128
    assert asyncio.run(owner.get_verification(4343)) == 0
