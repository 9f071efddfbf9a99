"""The one place where trio (libp2p) meets asyncio (starknet-py): a bridge and chain services.

`ChainBridge` owns an asyncio event loop in a dedicated thread; trio code awaits
`bridge.call(coro_fn, *args)` to run an asyncio coroutine function there. Cancelling the trio
side cancels the asyncio task, and every call has a timeout. The services on top of it are
trio-facing: `OnChainSignatureChecker` (SRC-6 `is_valid_signature`, a
`p2p.signing.SignatureChecker`), `RegistryView` (solvency and already-paid checks),
`AccountKeys` (Stark public keys of accounts, cached for synchronous gossip validators),
`BlockWatch` (wakes whoever waits for the chain to move on, instead of fixed polls) and
`FactWatch` (waits for facts with one events read a block for all of them).
No other module may mix the two loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import aiohttp
import trio
from starknet_py.hash.selector import get_selector_from_name
from starknet_py.net.client import Client
from starknet_py.net.client_errors import ClientError
from starknet_py.net.client_models import Call

from p2p.stark import STARK_PRIME
from registry_contract.client import FactRegistryClient, JobState, RegistryClient

logger = logging.getLogger(__name__)

T = TypeVar("T")

CALL_TIMEOUT_S = 30.0
"""Default bound on one chain call."""

CANCEL_GRACE_S = 5.0
"""How long a cancelled call waits for its asyncio task to finish cancelling."""

THREAD_JOIN_TIMEOUT_S = 10.0
"""How long closing the bridge waits for its thread to end."""

VALID = 0x56414C4944
"""'VALID' as a felt: what an SRC-6 account's `is_valid_signature` returns for a good signature."""

BALANCE_TTL_S = 2.0
"""How long a delegator's escrow, once seen sufficient, is trusted without asking again."""

MAX_WAIT_FOR_BLOCK_S = 2.0
"""Longest wait for a new block: state a node shows before it closes a block (pre-confirmed) is
looked at this often, and a failed read is retried."""

MAX_SIGNATURE_FELTS = 64
"""Longer signatures are refused without asking the chain."""

IS_VALID_SIGNATURE = get_selector_from_name("is_valid_signature")
FACT_REGISTERED = get_selector_from_name("FactRegistered")
EVENTS_CHUNK = 256
"""Events asked for in one page of `starknet_getEvents`."""
GET_PUBLIC_KEY = get_selector_from_name("get_public_key")

ACCOUNT_REFUSAL_CODES = frozenset({"20", "21", "40"})
"""JSON-RPC errors that are the account's answer, not the node's failure: contract not found,
entry point not found (pre-0.7 nodes) and contract error (the call reverted)."""


class ChainError(Exception):
    """A chain call failed for a reason other than the contract's own answer."""


class ChainTimeoutError(ChainError, TimeoutError):
    """A chain call took longer than its timeout (its asyncio task was cancelled)."""


class BridgeClosedError(ChainError):
    """The bridge is not running: use it inside `async with ChainBridge() as bridge`."""


class ChainBridge:
    """An asyncio event loop in its own thread, driven from trio.

    Use as `async with ChainBridge() as bridge: await bridge.call(client.get_block_number)`.
    Closing cancels the asyncio tasks still running and joins the thread.
    """

    def __init__(self, call_timeout_s: float = CALL_TIMEOUT_S) -> None:
        self.call_timeout_s = _check_timeout(call_timeout_s)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def thread(self) -> threading.Thread | None:
        """The thread running the asyncio loop (None before the bridge is entered)."""
        return self._thread

    async def __aenter__(self) -> ChainBridge:
        if self._thread is not None:
            raise RuntimeError("a ChainBridge can be entered only once")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="chain-bridge", daemon=True)
        self._thread.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        loop, self._loop = self._loop, None
        assert loop is not None and self._thread is not None
        loop.call_soon_threadsafe(lambda: loop.create_task(_stop_loop(loop)))
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(self._thread.join, THREAD_JOIN_TIMEOUT_S)
        if self._thread.is_alive():
            logger.error(
                "chain bridge thread did not stop", extra={"timeout_s": THREAD_JOIN_TIMEOUT_S}
            )

    def _run_loop(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    async def call(
        self,
        coro_fn: Callable[..., Awaitable[T]],
        *args: Any,
        timeout_s: float | None = None,
    ) -> T:
        """Run `await coro_fn(*args)` on the asyncio loop and return its result in trio.

        Raises what the coroutine raises, `ChainTimeoutError` after `timeout_s` (default: the
        bridge's `call_timeout_s`), `BridgeClosedError` if the bridge is not running. Cancelling
        the caller cancels the asyncio task.
        """
        loop = self._loop
        if loop is None:
            raise BridgeClosedError("the chain bridge is not running; enter it with `async with`")
        limit = self.call_timeout_s if timeout_s is None else _check_timeout(timeout_s)
        job = _AsyncioJob(loop, coro_fn, args, trio.lowlevel.current_trio_token())
        try:
            with trio.move_on_after(limit) as scope:
                await job.finished.wait()
        finally:
            if not job.finished.is_set():
                await job.cancel()
        if scope.cancelled_caught and not job.completed:
            name = getattr(coro_fn, "__qualname__", repr(coro_fn))
            logger.warning("chain call timed out", extra={"call": name, "timeout_s": limit})
            raise ChainTimeoutError(
                f"chain call {name} took over {limit}s; check that the "
                "Starknet node answers, or raise the call timeout"
            )
        return job.result()


def _check_timeout(timeout_s: float) -> float:
    if (
        isinstance(timeout_s, bool)
        or not isinstance(timeout_s, (int, float))
        or not (0 < timeout_s < float("inf"))
    ):
        raise ValueError(
            f"a chain call timeout must be a positive number of seconds, not {timeout_s!r}"
        )
    return float(timeout_s)


class _AsyncioJob:
    """One coroutine run as an asyncio task, with its completion signalled to trio."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        coro_fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        token: trio.lowlevel.TrioToken,
    ) -> None:
        self.finished = trio.Event()
        self._loop = loop
        self._token = token
        self._task: asyncio.Future[Any] | None = None
        loop.call_soon_threadsafe(self._start, coro_fn, args)

    @property
    def completed(self) -> bool:
        """Whether the task ended on its own (with a result or an exception)."""
        return self._task is not None and self._task.done() and not self._task.cancelled()

    def _start(self, coro_fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> None:
        self._task = asyncio.ensure_future(_invoke(coro_fn, args))
        self._task.add_done_callback(self._signal)

    def _signal(self, _task: object) -> None:
        with contextlib.suppress(trio.RunFinishedError):  # the caller's trio run has ended
            self._token.run_sync_soon(self.finished.set)

    async def cancel(self) -> None:
        """Cancel the task and wait (shielded, bounded) for it to finish."""
        try:
            self._loop.call_soon_threadsafe(self._cancel_task)
        except RuntimeError:  # the loop is closed: the task is gone with it
            return
        with trio.CancelScope(shield=True), trio.move_on_after(CANCEL_GRACE_S):
            await self.finished.wait()
        if not self.finished.is_set():
            logger.warning(
                "a cancelled chain call is still running on asyncio",
                extra={"grace_s": CANCEL_GRACE_S},
            )

    def _cancel_task(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def result(self) -> Any:
        """The task's result; raises its exception, or `BridgeClosedError` if it was cancelled."""
        task = self._task
        if task is None or task.cancelled():
            raise BridgeClosedError("the chain call was cancelled because the bridge closed")
        return task.result()


async def _invoke(coro_fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> Any:
    return await coro_fn(*args)


async def _stop_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel every other task, let them finish, then stop the loop."""
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    loop.stop()


def _is_felt(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < STARK_PRIME


def _is_account_refusal(error: ClientError) -> bool:
    return str(error.code) in ACCOUNT_REFUSAL_CODES


class OnChainSignatureChecker:
    """A `SignatureChecker` that asks the account contract (SRC-6 `is_valid_signature`).

    An undeployed account, a reverting call or a malformed input is False, never an exception;
    a node that cannot be reached raises `ChainError`. Answers are cached for `ttl_s` seconds.
    `queries` counts the questions that went to the chain.
    """

    def __init__(
        self, bridge: ChainBridge, client: Client, ttl_s: float = 60.0, max_entries: int = 4096
    ) -> None:
        self._bridge = bridge
        self._client = client
        self._cache = _TtlCache(ttl_s, max_entries)
        self.queries = 0

    async def is_valid_signature(
        self, account: int, message_hash: int, signature: Sequence[int]
    ) -> bool:
        if not _well_formed(account, message_hash, signature):
            return False
        key = (account, message_hash, tuple(signature))
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        valid = await self._ask_account(account, message_hash, list(signature))
        self._cache.put(key, valid)
        return valid

    async def _ask_account(self, account: int, message_hash: int, signature: list[int]) -> bool:
        self.queries += 1
        call = Call(
            to_addr=account,
            selector=IS_VALID_SIGNATURE,
            calldata=[message_hash, len(signature), *signature],
        )
        try:
            answer = await self._bridge.call(_call_view, self._client, call)
        except ClientError as error:
            if not _is_account_refusal(error):
                raise ChainError(f"the Starknet node failed: {error.message}") from error
            logger.info(
                "account refused the signature check",
                extra={"account": hex(account), "code": error.code},
            )
            return False
        return answer == [VALID]


def _well_formed(account: object, message_hash: object, signature: object) -> bool:
    return (
        _is_felt(account)
        and _is_felt(message_hash)
        and isinstance(signature, Sequence)
        and len(signature) <= MAX_SIGNATURE_FELTS
        and all(_is_felt(value) for value in signature)
    )


async def _call_view(client: Client, call: Call) -> list[int]:
    """A view call with network failures turned into `ChainError` (runs on asyncio)."""
    try:
        return await client.call_contract(call, block_number="latest")
    except (OSError, aiohttp.ClientError, asyncio.TimeoutError) as error:
        raise ChainError(f"cannot reach the Starknet node ({error!r}); check its URL") from error


class _TtlCache:
    """A small map whose entries expire after `ttl_s` (oldest evicted first when full)."""

    def __init__(self, ttl_s: float, max_entries: int) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._entries: dict[object, tuple[float, bool]] = {}

    def get(self, key: object) -> bool | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if trio.current_time() >= expires_at:
            del self._entries[key]
            return None
        return value

    def put(self, key: object, value: bool) -> None:
        self._entries.pop(key, None)
        if len(self._entries) >= self._max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (trio.current_time() + self._ttl_s, value)


class RegistryView:
    """The Registry's views the executor checks before working: solvency and already paid."""

    def __init__(self, bridge: ChainBridge, registry: RegistryClient) -> None:
        self._bridge = bridge
        self._registry = registry
        self._balances: dict[int, tuple[float, int]] = {}
        self._reading: dict[int, trio.Lock] = {}
        self.balance_reads = 0
        """Escrow balances read from chain so far."""

    async def available_balance(self, account: int) -> int:
        """The account's escrow less what is pending withdrawal."""
        self.balance_reads += 1
        return await self._bridge.call(self._registry.available_balance, account)

    async def covers(self, account: int, amount: int) -> bool:
        """Whether the account's available escrow covers `amount`.

        A balance read in the last BALANCE_TTL_S seconds that covers it is trusted (the
        Registry checks the escrow again when it pays); otherwise the balance is read. Questions
        about one account wait for the read under way (many jobs at once ask one read).
        """
        async with self._reading.setdefault(account, trio.Lock()):
            read_at, balance = self._balances.get(account, (-math.inf, 0))
            if balance >= amount and trio.current_time() - read_at < BALANCE_TTL_S:
                return True
            balance = await self.available_balance(account)
            self._balances[account] = (trio.current_time(), balance)
            return balance >= amount

    async def job_state(self, job_hash: int) -> JobState:
        """Whether (and to whom) the job was paid."""
        return await self._bridge.call(self._registry.job_state, job_hash)


class AccountKeys:
    """Stark public keys of accounts, fetched from chain (`get_public_key`) and kept locally.

    `fetch` is async (trio); `public_key` reads the local copy synchronously, for gossip
    validators. An undeployed account, or one without `get_public_key`, has no key (None).
    """

    def __init__(self, bridge: ChainBridge, client: Client) -> None:
        self._bridge = bridge
        self._client = client
        self._keys: dict[int, int] = {}

    def public_key(self, account: int) -> int | None:
        """The key fetched earlier for `account`, if any."""
        return self._keys.get(account)

    async def fetch(self, account: int) -> int | None:
        """Read the account's public key from chain and keep it; None if it has none."""
        if not _is_felt(account):
            return None
        call = Call(to_addr=account, selector=GET_PUBLIC_KEY, calldata=[])
        try:
            answer = await self._bridge.call(_call_view, self._client, call)
        except ClientError as error:
            if not _is_account_refusal(error):
                raise ChainError(f"the Starknet node failed: {error.message}") from error
            return None
        if len(answer) != 1:
            return None
        self._keys[account] = answer[0]
        return answer[0]


class BlockWatch:
    """The chain's newest block number, read every `interval_s` while someone waits for it.

    `await watch.wait_past(seen)` returns once the newest block is not `seen` (at the latest
    after MAX_WAIT_FOR_BLOCK_S): the pattern is `seen = watch.number`, then check the state,
    then `seen = await watch.wait_past(seen)` and check again. Works against any JSON-RPC node
    (`starknet_blockNumber`); run `watch.run` in a nursery.
    """

    def __init__(self, bridge: ChainBridge, client: Client, interval_s: float) -> None:
        self._bridge = bridge
        self._client = client
        self._interval_s = interval_s
        self.number = -1
        """The newest block number last read (-1 before the first read)."""
        self._waiters = 0
        self._wanted = trio.Event()
        self._moved = trio.Event()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Read the block number while anyone waits; until cancelled."""
        task_status.started()
        while True:
            if not self._waiters:
                self._wanted = trio.Event()
                await self._wanted.wait()
            await self._read()
            await trio.sleep(self._interval_s)

    async def _read(self) -> None:
        try:
            number = await self._bridge.call(self._client.get_block_number)
        except (ChainError, ClientError, OSError, aiohttp.ClientError) as error:
            logger.warning("cannot read the block number; retrying",
                           extra={"error": str(error), "retry_s": self._interval_s})
            return
        if number != self.number:
            self.number = number
            self._moved.set()
            self._moved = trio.Event()

    async def wait_past(self, seen: int) -> int:
        """Wait until the newest block is not `seen`, or MAX_WAIT_FOR_BLOCK_S; return the
        newest block number known then."""
        self._waiters += 1
        self._wanted.set()
        try:
            with trio.move_on_after(MAX_WAIT_FOR_BLOCK_S):
                while self.number == seen:
                    await self._moved.wait()
        finally:
            self._waiters -= 1
        return self.number


class FactWatch:
    """Waits for facts to be registered in the FactRegistry with at least some security bits.

    A waiter asks the FactRegistry once (a view); then, each time the chain adds a block, one
    read of the FactRegistered events of the blocks not read yet serves every waiting fact
    (instead of a view per waiting fact and block, which many jobs at once multiply).
    """

    def __init__(self, bridge: ChainBridge, facts: FactRegistryClient, blocks: BlockWatch) -> None:
        self._bridge = bridge
        self._facts = facts
        self._blocks = blocks
        self._waiters: dict[int, int] = {}
        """Fact -> how many wait for it."""
        self._bits: dict[int, int] = {}
        """Waited fact -> the highest security bits of its registrations seen in the events."""
        self._next_block: int | None = None
        """The first block whose events are not read yet."""
        self._lock = trio.Lock()

    async def wait(self, fact: int, min_bits: int, deadline: float) -> bool:
        """True once `fact` is registered with at least `min_bits`; False when the Unix time
        `deadline` passes first. Raises ChainError when the first view fails."""
        self._waiters[fact] = self._waiters.get(fact, 0) + 1
        try:
            if self._next_block is None:
                await self._start()
            if await self._registered_now(fact, min_bits):
                return True
            seen = self._blocks.number
            while self._bits.get(fact, -1) < min_bits:
                if time.time() > deadline:
                    return False
                seen = await self._blocks.wait_past(seen)
                await self._read_events(seen)
            return True
        finally:
            self._waiters[fact] -= 1
            if not self._waiters[fact]:
                del self._waiters[fact]
                self._bits.pop(fact, None)
            if not self._waiters:
                self._next_block = None  # the next waiter starts from the newest block

    async def _start(self) -> None:
        """Read events from the newest block on (before the first waiter's view)."""
        async with self._lock:
            if self._next_block is None:
                client = self._facts.account.client
                self._next_block = await self._bridge.call(client.get_block_number)

    async def _registered_now(self, fact: int, min_bits: int) -> bool:
        """One view: with a minimum of 0 any registration is enough, else the bits tell."""
        if min_bits == 0:
            return await self._bridge.call(self._facts.is_valid, fact)
        return await self._bridge.call(self._facts.get_verification, fact) >= min_bits

    async def _read_events(self, newest: int) -> None:
        """Read the FactRegistered events up to block `newest` (once, whoever asks first)."""
        async with self._lock:
            first = self._next_block
            if first is None or newest < first:
                return
            try:
                events = await self._bridge.call(
                    _fact_events, self._facts.account.client, self._facts.address, first, newest)
            except (ChainError, ClientError, OSError, aiohttp.ClientError) as error:
                logger.warning("cannot read FactRegistry events; retrying at the next block",
                               extra={"error": str(error), "from_block": first})
                return
            for event in events:
                fact, bits = event.keys[1], event.data[1]
                if fact in self._waiters:
                    self._bits[fact] = max(bits, self._bits.get(fact, -1))
            self._next_block = newest + 1


async def _fact_events(client: Client, address: int, first: int, last: int) -> list[Any]:
    """The FactRegistered events of blocks `first` to `last` (runs on asyncio)."""
    chunk = await client.get_events(
        address=address, keys=[[FACT_REGISTERED]], from_block_number=first,
        to_block_number=last, follow_continuation_token=True, chunk_size=EVENTS_CHUNK)
    return chunk.events
