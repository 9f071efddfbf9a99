"""The trio/asyncio bridge and the chain services on it, against a real devnet on 127.0.0.1."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
import trio
from starknet_py.net.account.account import Account
from starknet_py.net.client_errors import ClientError
from starknet_py.net.full_node_client import FullNodeClient
from starknet_py.net.signer.key_pair import KeyPair

from devnet.check import FEE_TOKEN
from devnet.spawn import DevnetProcess
from node.chain import (
    MAX_WAIT_FOR_BLOCK_S,
    AccountKeys,
    BlockWatch,
    BridgeClosedError,
    ChainBridge,
    ChainError,
    ChainTimeoutError,
    FactWatch,
    OnChainSignatureChecker,
    RegistryView,
)
from node.wallet import NumberingAccount, Wallet
from p2p import stark
from p2p.stark import STARK_PRIME, StarkKeyPair
from registry_contract.client import FactRegistryClient, Refusal, Refused, RegistryClient
from registry_contract.deploy import deploy
from tests.ports import free_port

UNDEPLOYED = 0x1234567890ABCDEF
MESSAGE_HASH = 0x5EED_0F_A_70B


@dataclass
class Chain:
    """A devnet with the Registry deployed and its first account's key and client."""

    devnet: DevnetProcess
    account: Account
    key: StarkKeyPair
    registry: int
    fact_registry: int

    @property
    def client(self) -> FullNodeClient:
        return FullNodeClient(node_url=self.devnet.url)

    def numbering_account(self, estimate_ttl_s: float = 60.0) -> NumberingAccount:
        """The same account, numbering its own invokes and reusing fee estimates (as the roles
        use it)."""
        chain_id = int(self.devnet.info["chain_id"], 16)
        wallet = Wallet(self.account.address, self.key, chain_id)
        return wallet.account(self.devnet.url, estimate_ttl_s)


@pytest.fixture(scope="module")
def chain() -> Iterator[Chain]:
    with DevnetProcess("--accounts", "1", "--seed", "23") as devnet:
        info = devnet.info["accounts"][0]
        key = StarkKeyPair.from_private_key(int(info["private_key"], 16))
        account = Account(
            client=FullNodeClient(node_url=devnet.url),
            address=int(info["address"], 16),
            key_pair=KeyPair.from_private_key(key.private_key),
            chain=int(devnet.info["chain_id"], 16),
        )
        deployment = asyncio.run(deploy(account, FEE_TOKEN))
        yield Chain(devnet, account, key, deployment.registry, deployment.fact_registry)


@pytest.fixture
async def bridge() -> AsyncIterator[ChainBridge]:
    async with ChainBridge(call_timeout_s=20) as running:
        yield running


# The bridge itself


async def test_call_runs_the_coroutine_on_the_asyncio_thread(bridge: ChainBridge) -> None:
    async def where(offset: int) -> tuple[int, int]:
        asyncio.get_running_loop()  # raises unless an asyncio loop runs this
        return threading.get_ident(), offset + 1

    thread_id, value = await bridge.call(where, 41)

    assert value == 42
    assert bridge.thread is not None and thread_id == bridge.thread.ident
    assert thread_id != threading.get_ident()


async def test_exceptions_keep_their_type(bridge: ChainBridge, chain: Chain) -> None:
    class Odd(Exception):
        pass

    async def fail() -> None:
        raise Odd("from asyncio")

    with pytest.raises(Odd, match="from asyncio"):
        await bridge.call(fail)
    with pytest.raises(ClientError, match="Block not found"):
        await bridge.call(chain.client.get_block, None, 10**9)
    assert await bridge.call(chain.client.get_block_number) >= 0


async def test_cancelling_the_trio_side_cancels_the_asyncio_task(bridge: ChainBridge) -> None:
    events: list[str] = []

    async def slow() -> None:
        try:
            events.append("started")
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            events.append("cancelled")
            raise

    with trio.move_on_after(0.3) as scope:
        await bridge.call(slow)

    assert scope.cancelled_caught
    assert events == ["started", "cancelled"]  # the task had finished cancelling on return
    assert await bridge.call(asyncio.sleep, 0, "still usable") == "still usable"


async def test_a_call_over_its_timeout_raises_and_is_cancelled(bridge: ChainBridge) -> None:
    started = trio.current_time()
    with pytest.raises(ChainTimeoutError, match=r"took over 0\.2s") as caught:
        await bridge.call(asyncio.sleep, 30, timeout_s=0.2)

    assert isinstance(caught.value, TimeoutError)
    assert trio.current_time() - started < 10
    assert await bridge.call(asyncio.sleep, 0, 7) == 7


async def test_closing_joins_the_thread_and_fails_pending_calls() -> None:
    outcomes: list[type[BaseException]] = []

    async def wait_long(bridge: ChainBridge) -> None:
        try:
            await bridge.call(asyncio.sleep, 30)
        except BridgeClosedError as error:
            outcomes.append(type(error))

    async with trio.open_nursery() as nursery, ChainBridge() as bridge:
        nursery.start_soon(wait_long, bridge)
        await trio.sleep(0.2)
    assert outcomes == [BridgeClosedError]
    assert bridge.thread is not None and not bridge.thread.is_alive()
    with pytest.raises(BridgeClosedError, match="async with"):
        await bridge.call(asyncio.sleep, 0)


async def test_calls_before_entering_are_refused() -> None:
    with pytest.raises(BridgeClosedError, match="async with"):
        await ChainBridge().call(asyncio.sleep, 0)


async def test_concurrent_calls_each_get_their_own_result(bridge: ChainBridge) -> None:
    results: dict[int, int] = {}

    async def square_later(n: int) -> int:
        await asyncio.sleep(0.01 * (n % 5))
        return n * n

    async def ask(n: int) -> None:
        results[n] = await bridge.call(square_later, n)

    async with trio.open_nursery() as nursery:
        for n in range(50):
            nursery.start_soon(ask, n)
    assert results == {n: n * n for n in range(50)}


@pytest.mark.parametrize("timeout_s", [0, -1, float("nan"), float("inf"), "5", True])
async def test_bad_timeouts_are_refused(bridge: ChainBridge, timeout_s: object) -> None:
    with pytest.raises(ValueError, match="positive number of seconds"):
        ChainBridge(call_timeout_s=timeout_s)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive number of seconds"):
        await bridge.call(asyncio.sleep, 0, timeout_s=timeout_s)  # type: ignore[arg-type]
    assert await bridge.call(asyncio.sleep, 0, "usable") == "usable"


async def test_a_bridge_is_entered_once(bridge: ChainBridge) -> None:
    with pytest.raises(RuntimeError, match="only once"):
        await bridge.__aenter__()


# Signatures checked by the account contract


async def test_a_real_signature_is_valid_on_chain_and_locally(
    bridge: ChainBridge, chain: Chain
) -> None:
    checker = OnChainSignatureChecker(bridge, chain.client)
    signature = chain.key.sign(MESSAGE_HASH)

    assert await checker.is_valid_signature(chain.account.address, MESSAGE_HASH, signature)
    assert stark.verify(chain.key.public_key, MESSAGE_HASH, signature)


async def test_forged_signatures_are_invalid(bridge: ChainBridge, chain: Chain) -> None:
    checker = OnChainSignatureChecker(bridge, chain.client)
    address = chain.account.address
    forged = StarkKeyPair.generate().sign(MESSAGE_HASH)
    r, s = chain.key.sign(MESSAGE_HASH)

    assert not await checker.is_valid_signature(address, MESSAGE_HASH, forged)
    assert not await checker.is_valid_signature(address, MESSAGE_HASH + 1, (r, s))
    assert not await checker.is_valid_signature(address, MESSAGE_HASH, (r, s, 1))
    assert not await checker.is_valid_signature(address, MESSAGE_HASH, ())
    assert checker.queries == 4


async def test_undeployed_or_non_account_contracts_answer_false(
    bridge: ChainBridge, chain: Chain
) -> None:
    checker = OnChainSignatureChecker(bridge, chain.client)
    signature = chain.key.sign(MESSAGE_HASH)

    assert not await checker.is_valid_signature(UNDEPLOYED, MESSAGE_HASH, signature)
    assert not await checker.is_valid_signature(FEE_TOKEN, MESSAGE_HASH, signature)  # reverts
    assert checker.queries == 2


@pytest.mark.parametrize(
    ("account", "message_hash", "signature"),
    [
        (STARK_PRIME, MESSAGE_HASH, (1, 2)),
        (-1, MESSAGE_HASH, (1, 2)),
        (True, MESSAGE_HASH, (1, 2)),
        (UNDEPLOYED, STARK_PRIME, (1, 2)),
        (UNDEPLOYED, "0x1", (1, 2)),
        (UNDEPLOYED, MESSAGE_HASH, (1, STARK_PRIME)),
        (UNDEPLOYED, MESSAGE_HASH, (1, None)),
        (UNDEPLOYED, MESSAGE_HASH, [1] * 65),
        (UNDEPLOYED, MESSAGE_HASH, 12),
    ],
)
async def test_malformed_input_is_false_without_asking(
    bridge: ChainBridge, chain: Chain, account: object, message_hash: object, signature: object
) -> None:
    checker = OnChainSignatureChecker(bridge, chain.client)

    assert not await checker.is_valid_signature(account, message_hash, signature)  # type: ignore[arg-type]
    assert checker.queries == 0


async def test_answers_are_cached_until_they_expire(bridge: ChainBridge, chain: Chain) -> None:
    checker = OnChainSignatureChecker(bridge, chain.client, ttl_s=0.3)
    address = chain.account.address
    signature = chain.key.sign(MESSAGE_HASH)

    for _ in range(3):
        assert await checker.is_valid_signature(address, MESSAGE_HASH, signature)
        assert not await checker.is_valid_signature(UNDEPLOYED, MESSAGE_HASH, signature)
    assert checker.queries == 2
    await trio.sleep(0.35)
    assert await checker.is_valid_signature(address, MESSAGE_HASH, list(signature))
    assert checker.queries == 3


async def test_an_unreachable_node_raises_chain_error(bridge: ChainBridge, chain: Chain) -> None:
    dead = FullNodeClient(node_url=f"http://127.0.0.1:{free_port()}/rpc")
    checker = OnChainSignatureChecker(bridge, dead)
    signature = chain.key.sign(MESSAGE_HASH)

    with pytest.raises(ChainError, match="check its URL"):
        await checker.is_valid_signature(chain.account.address, MESSAGE_HASH, signature)
    with pytest.raises(ChainError, match="check its URL"):
        await AccountKeys(bridge, dead).fetch(chain.account.address)
    live = OnChainSignatureChecker(bridge, chain.client)
    assert await live.is_valid_signature(chain.account.address, MESSAGE_HASH, signature)


# Public keys and Registry views


async def test_account_keys_are_fetched_and_kept_locally(bridge: ChainBridge, chain: Chain) -> None:
    keys = AccountKeys(bridge, chain.client)
    address = chain.account.address
    assert keys.public_key(address) is None

    assert await keys.fetch(address) == chain.key.public_key
    assert keys.public_key(address) == chain.key.public_key
    assert await keys.fetch(UNDEPLOYED) is None
    assert await keys.fetch(FEE_TOKEN) is None  # no get_public_key
    assert await keys.fetch(STARK_PRIME) is None
    assert keys.public_key(UNDEPLOYED) is None and keys.public_key(FEE_TOKEN) is None


async def test_registry_view_reads_escrow_and_job_state(bridge: ChainBridge, chain: Chain) -> None:
    registry = RegistryClient(chain.account, chain.registry, FEE_TOKEN)
    view = RegistryView(bridge, registry)
    before = await view.available_balance(chain.account.address)

    await bridge.call(registry.deposit, 10**15)

    assert await view.available_balance(chain.account.address) == before + 10**15
    assert await view.available_balance(UNDEPLOYED) == 0
    state = await view.job_state(0xAB)
    assert not state.paid and state.paid_at == 0


async def test_a_sufficient_escrow_is_trusted_and_an_insufficient_one_read_again(
    bridge: ChainBridge, chain: Chain
) -> None:
    registry = RegistryClient(chain.account, chain.registry, FEE_TOKEN)
    view = RegistryView(bridge, registry)
    available = await view.available_balance(chain.account.address)
    assert await view.covers(chain.account.address, available)
    assert not await view.covers(chain.account.address, available + 10**15)

    await bridge.call(registry.deposit, 10**15)

    assert await view.covers(chain.account.address, available + 10**15)
    assert not await view.covers(UNDEPLOYED, 1)


async def test_questions_about_one_escrow_at_once_share_one_read(
    bridge: ChainBridge, chain: Chain
) -> None:
    registry = RegistryClient(chain.account, chain.registry, FEE_TOKEN)
    await bridge.call(registry.deposit, 1)
    view = RegistryView(bridge, registry)
    answers: list[bool] = []

    async def ask(amount: int) -> None:
        answers.append(await view.covers(chain.account.address, amount))

    async with trio.open_nursery() as nursery:
        for _ in range(8):
            nursery.start_soon(ask, 1)
    assert answers == [True] * 8 and view.balance_reads == 1
    assert not await view.covers(chain.account.address, 10**40)  # too much: read again
    assert view.balance_reads == 2


# One account, several transactions in flight


async def _nonce(bridge: ChainBridge, chain: Chain) -> int:
    return await bridge.call(chain.account.get_nonce)


async def test_one_account_has_several_transactions_in_flight(
    bridge: ChainBridge, chain: Chain
) -> None:
    registry = RegistryClient(chain.numbering_account(), chain.registry, FEE_TOKEN)
    before, nonce = await registry_balance(bridge, registry), await _nonce(bridge, chain)

    async def deposit_four_at_once() -> list[int]:
        receipts = await asyncio.gather(*(registry.deposit(10**12 + i) for i in range(4)))
        return [receipt.transaction_hash for receipt in receipts]

    assert len(set(await bridge.call(deposit_four_at_once))) == 4
    assert await registry_balance(bridge, registry) == before + 4 * 10**12 + 6
    assert await _nonce(bridge, chain) == nonce + 4


async def registry_balance(bridge: ChainBridge, registry: RegistryClient) -> int:
    return await bridge.call(registry.balance_of, None)


async def test_a_nonce_used_by_another_program_is_read_again(
    bridge: ChainBridge, chain: Chain
) -> None:
    ours = RegistryClient(chain.numbering_account(), chain.registry, FEE_TOKEN)
    other = RegistryClient(chain.account, chain.registry, FEE_TOKEN)
    await bridge.call(ours.deposit, 1)
    await bridge.call(other.deposit, 2)  # the same account, from elsewhere: our count is stale
    nonce = await _nonce(bridge, chain)

    await bridge.call(ours.deposit, 1)

    assert await _nonce(bridge, chain) == nonce + 1


async def test_a_refused_invoke_leaves_its_nonce_to_the_next(
    bridge: ChainBridge, chain: Chain
) -> None:
    registry = RegistryClient(chain.numbering_account(), chain.registry, FEE_TOKEN)
    nonce = await _nonce(bridge, chain)
    with pytest.raises(Refused) as refused:
        await bridge.call(registry.request_withdrawal, 2**200)
    assert refused.value.refusal is Refusal.AMOUNT_OVER_AVAILABLE
    assert refused.value.transaction_hash is None  # refused when its fee was estimated

    await bridge.call(registry.deposit, 1)

    assert await _nonce(bridge, chain) == nonce + 1


async def test_a_reused_fee_estimate_sends_unchecked_until_resync(
    bridge: ChainBridge, chain: Chain
) -> None:
    account = chain.numbering_account()
    registry = RegistryClient(account, chain.registry, FEE_TOKEN)
    await bridge.call(registry.deposit, 10)
    await bridge.call(registry.request_withdrawal, 1)  # estimated: its bounds are kept

    with pytest.raises(Refused) as reverted:  # same calls: sent with the kept bounds
        await bridge.call(registry.request_withdrawal, 2**200)
    assert reverted.value.refusal is Refusal.AMOUNT_OVER_AVAILABLE
    assert reverted.value.transaction_hash is not None  # it reverted on chain

    await bridge.call(account.resync)
    with pytest.raises(Refused) as estimated:
        await bridge.call(registry.request_withdrawal, 2**200)
    assert estimated.value.transaction_hash is None


async def test_without_estimate_reuse_each_refusal_is_found_before_sending(
    bridge: ChainBridge, chain: Chain
) -> None:
    registry = RegistryClient(chain.numbering_account(0.0), chain.registry, FEE_TOKEN)
    await bridge.call(registry.deposit, 10)
    await bridge.call(registry.request_withdrawal, 1)

    with pytest.raises(Refused) as estimated:
        await bridge.call(registry.request_withdrawal, 2**200)
    assert estimated.value.transaction_hash is None


# The block watch


async def test_the_block_watch_wakes_waiters_when_a_block_is_added(
    bridge: ChainBridge, chain: Chain
) -> None:
    watch = BlockWatch(bridge, chain.client, interval_s=0.05)
    registry = RegistryClient(chain.numbering_account(), chain.registry, FEE_TOKEN)
    async with trio.open_nursery() as nursery:
        await nursery.start(watch.run)
        newest = await watch.wait_past(watch.number)
        assert newest == await bridge.call(chain.client.get_block_number)
        woken: list[int] = []

        async def wait() -> None:
            seen = newest
            while seen == newest:  # each wait is bounded; a slow devnet takes several
                seen = await watch.wait_past(newest)
            woken.append(seen)

        nursery.start_soon(wait)
        await bridge.call(registry.deposit, 1)  # the devnet adds a block for it
        with trio.fail_after(MAX_WAIT_FOR_BLOCK_S / 2):
            while not woken:
                await trio.sleep(0.01)
        assert woken[0] > newest
        nursery.cancel_scope.cancel()


async def test_the_block_watch_outlives_an_unreachable_node(
    bridge: ChainBridge, caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = FullNodeClient(node_url=f"http://127.0.0.1:{free_port()}/rpc")
    watch = BlockWatch(bridge, unreachable, interval_s=0.05)
    async with trio.open_nursery() as nursery:
        await nursery.start(watch.run)
        started = trio.current_time()
        assert await watch.wait_past(watch.number) == -1  # bounded: gives up waiting
        assert trio.current_time() - started >= MAX_WAIT_FOR_BLOCK_S * 0.9
        nursery.cancel_scope.cancel()
    assert "cannot read the block number; retrying" in caplog.text


# The fact watch


async def test_the_fact_watch_wakes_each_waiter_once_its_fact_has_the_bits(
    bridge: ChainBridge, chain: Chain
) -> None:
    account = chain.numbering_account()
    facts = FactRegistryClient(account, chain.fact_registry)
    await bridge.call(facts.add_verifier, account.address)
    await bridge.call(facts.register_fact, 0xFAC7_0, 0)
    blocks = BlockWatch(bridge, chain.client, interval_s=0.05)
    watch = FactWatch(bridge, facts, blocks)
    woken: dict[tuple[int, int], bool] = {}

    async def wait(fact: int, min_bits: int) -> None:
        woken[fact, min_bits] = await watch.wait(fact, min_bits, time.time() + 60)

    async def until(key: tuple[int, int]) -> None:
        with trio.fail_after(20):
            while key not in woken:
                await trio.sleep(0.01)

    async with trio.open_nursery() as nursery:
        await nursery.start(blocks.run)
        assert await watch.wait(0xFAC7_0, 0, time.time() + 60)  # registered before: the view
        for key in ((0xFAC7_1, 0), (0xFAC7_1, 20), (0xFAC7_2, 0)):
            nursery.start_soon(wait, *key)
        await trio.sleep(0.5)  # each has asked the FactRegistry once
        await bridge.call(facts.register_fact, 0xFAC7_1, 10)
        await until((0xFAC7_1, 0))
        assert (0xFAC7_1, 20) not in woken  # 10 bits are too few for it
        await bridge.call(facts.register_fact, 0xFAC7_1, 30)
        await until((0xFAC7_1, 20))
        assert woken == {(0xFAC7_1, 0): True, (0xFAC7_1, 20): True}  # not 0xFAC7_2's waiter
        assert not await watch.wait(0xFAC7_3, 0, time.time() - 1)  # its deadline has passed
        nursery.cancel_scope.cancel()
