"""Executor stakes on the devnet: staking, the two-step unstake, and the contract's SHA-256."""

from __future__ import annotations

import asyncio
import secrets
import time

import pytest

from p2p.messages import felts_digest
from p2p.stark import STARK_PRIME
from registry_contract.client import Refusal, Refused
from registry_contract.events import Staked, Unstaked, UnstakeRequested, registry_events_in
from tests.registry_contract.conftest import (
    WITHDRAWAL_DELAY_S,
    World,
    create_block,
    token_balances,
)


def test_stake_moves_tokens_into_the_stake(world: World) -> None:
    party = world.other
    stake_before = asyncio.run(party.registry.stake_of())
    escrow_before = asyncio.run(party.registry.balance_of())
    [tokens_before] = asyncio.run(token_balances(party.account, [party.address]))
    receipt = asyncio.run(party.registry.stake(3 * 10**15))
    [tokens_after] = asyncio.run(token_balances(party.account, [party.address]))
    assert asyncio.run(party.registry.stake_of()) == stake_before + 3 * 10**15
    assert asyncio.run(party.registry.balance_of()) == escrow_before
    assert tokens_after == tokens_before - 3 * 10**15 - receipt.actual_fee.amount
    assert registry_events_in(receipt.events, world.deployment.registry) == [
        Staked(executor=party.address, amount=3 * 10**15)
    ]


@pytest.mark.parametrize(
    "amount, refusal", [(0, Refusal.ZERO_AMOUNT), (2**200, Refusal.INSUFFICIENT_BALANCE)]
)
def test_bad_stake_is_refused(world: World, amount: int, refusal: Refusal) -> None:
    party = world.other
    before = asyncio.run(party.registry.stake_of())
    with pytest.raises(Refused) as caught:
        asyncio.run(party.registry.stake(amount))
    assert caught.value.refusal == refusal
    assert asyncio.run(party.registry.stake_of()) == before


def test_unstake_above_the_stake_is_refused(world: World) -> None:
    party = world.other
    asyncio.run(party.registry.stake(10**14))
    stake = asyncio.run(party.registry.stake_of())
    pending = asyncio.run(party.registry.pending_unstake()).amount
    with pytest.raises(Refused) as caught:
        asyncio.run(party.registry.request_unstake(stake - pending + 1))
    assert caught.value.refusal == Refusal.AMOUNT_OVER_STAKE
    assert asyncio.run(party.registry.pending_unstake()).amount == pending


def test_unstake_without_a_request_is_refused(world: World) -> None:
    party = world.delegator
    with pytest.raises(Refused) as caught:
        asyncio.run(party.registry.unstake())
    assert caught.value.refusal == Refusal.NO_UNSTAKE_PENDING


def test_unstake_waits_for_the_delay(world: World) -> None:
    """A requested unstake unlocks after the withdrawal delay and pays exactly the request; the
    rest of the stake stays."""
    party, registry = world.delegator, world.delegator.registry
    asyncio.run(registry.stake(4 * 10**14))
    stake = asyncio.run(registry.stake_of())
    create_block(world.devnet.url)  # stamp the request's block with the time now
    receipt = asyncio.run(registry.request_unstake(10**14))
    pending = asyncio.run(registry.pending_unstake())
    assert pending.amount == 10**14
    assert pending.unlock_at >= time.time() - 60 + WITHDRAWAL_DELAY_S
    assert registry_events_in(receipt.events, world.deployment.registry) == [
        UnstakeRequested(executor=party.address, amount=10**14, unlock_at=pending.unlock_at)
    ]
    with pytest.raises(Refused) as caught:
        asyncio.run(registry.unstake())
    assert caught.value.refusal == Refusal.UNSTAKE_LOCKED

    time.sleep(max(0.0, pending.unlock_at + 1 - time.time()))
    create_block(world.devnet.url)
    [tokens_before] = asyncio.run(token_balances(party.account, [party.address]))
    receipt = asyncio.run(registry.unstake())
    [tokens_after] = asyncio.run(token_balances(party.account, [party.address]))
    assert tokens_after == tokens_before + 10**14 - receipt.actual_fee.amount
    assert asyncio.run(registry.stake_of()) == stake - 10**14
    assert asyncio.run(registry.pending_unstake()).amount == 0
    assert registry_events_in(receipt.events, world.deployment.registry) == [
        Unstaked(executor=party.address, amount=10**14)
    ]


@pytest.mark.parametrize("count", [0, 1, 2, 3, 5])
def test_contract_sha256_equals_hashlib(world: World, count: int) -> None:
    """The digest a stream reply signs, recomputed by the contract: 1, 2 and 3 blocks."""
    felts = [STARK_PRIME - 1, *(secrets.randbelow(STARK_PRIME) for _ in range(count))][:count]
    assert asyncio.run(world.other.registry.felts_digest(felts)) == felts_digest(felts)
