"""Registry events: decoding, and an async iterator that resumes exactly where it stopped.

The iterator yields each event with the cursor just after it. A cursor is plain data (the first
block still to read, the node's continuation token within it and how many events of that page were
already delivered), so it can be saved anywhere and handed to a new iterator, on another process or
after the node restarted from its dump: no event is delivered twice or skipped. While the node is
unreachable the iterator logs and retries; it runs until the caller stops iterating.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import aiohttp
from starknet_py.hash.selector import get_selector_from_name
from starknet_py.net.client import Client
from starknet_py.net.client_errors import ClientError
from starknet_py.net.client_models import Event

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 64
DEFAULT_POLL_INTERVAL_S = 1.0


@dataclass(frozen=True, kw_only=True)
class Deposited:
    account: int
    amount: int


@dataclass(frozen=True, kw_only=True)
class WithdrawalRequested:
    account: int
    amount: int
    """The whole pending amount after the request."""
    unlock_at: int


@dataclass(frozen=True, kw_only=True)
class Withdrawn:
    account: int
    amount: int


@dataclass(frozen=True, kw_only=True)
class JobCompleted:
    job_hash: int
    delegator: int
    executor: int
    reward: int
    output: tuple[int, ...]
    """The program output; empty when it stayed off chain (`submit_witness_digest`)."""
    output_digest: int
    """`poseidon(output)`, of the whole output even when `output` is empty."""


@dataclass(frozen=True, kw_only=True)
class Staked:
    executor: int
    amount: int


@dataclass(frozen=True, kw_only=True)
class UnstakeRequested:
    executor: int
    amount: int
    """The whole pending amount after the request."""
    unlock_at: int


@dataclass(frozen=True, kw_only=True)
class Unstaked:
    executor: int
    amount: int


@dataclass(frozen=True, kw_only=True)
class CheatReported:
    job_hash: int
    executor: int
    reporter: int
    slashed: int
    """The executor's whole stake: half went to the reporter, the rest to the job's delegator."""


RegistryEvent = (
    Deposited | WithdrawalRequested | Withdrawn | JobCompleted | Staked | UnstakeRequested
    | Unstaked | CheatReported
)


def _u256(low: int, high: int) -> int:
    return low + (high << 128)


def _decode_job_completed(keys: Sequence[int], data: Sequence[int]) -> JobCompleted:
    length = data[2]
    if len(data) != 4 + length:
        raise ValueError(f"JobCompleted data holds {len(data)} felts for {length} outputs")
    return JobCompleted(job_hash=keys[1], delegator=keys[2], executor=keys[3],
                        reward=_u256(data[0], data[1]), output=tuple(data[3:-1]),
                        output_digest=data[-1])


_DECODERS = {
    get_selector_from_name("Deposited"):
        lambda keys, data: Deposited(account=keys[1], amount=_u256(*data)),
    get_selector_from_name("WithdrawalRequested"):
        lambda keys, data: WithdrawalRequested(account=keys[1], amount=_u256(*data[:2]),
                                               unlock_at=data[2]),
    get_selector_from_name("Withdrawn"):
        lambda keys, data: Withdrawn(account=keys[1], amount=_u256(*data)),
    get_selector_from_name("JobCompleted"): _decode_job_completed,
    get_selector_from_name("Staked"):
        lambda keys, data: Staked(executor=keys[1], amount=_u256(*data)),
    get_selector_from_name("UnstakeRequested"):
        lambda keys, data: UnstakeRequested(executor=keys[1], amount=_u256(*data[:2]),
                                            unlock_at=data[2]),
    get_selector_from_name("Unstaked"):
        lambda keys, data: Unstaked(executor=keys[1], amount=_u256(*data)),
    get_selector_from_name("CheatReported"):
        lambda keys, data: CheatReported(job_hash=keys[1], executor=keys[2], reporter=keys[3],
                                         slashed=_u256(*data)),
}


def decode_event(event: Event) -> RegistryEvent | None:
    """The Registry event `event` is, or None for another contract's or an unknown one."""
    decoder = _DECODERS.get(event.keys[0]) if event.keys else None
    if decoder is None:
        return None
    try:
        return decoder(event.keys, event.data)
    except (IndexError, TypeError, ValueError) as exc:
        logger.warning("undecodable registry event", extra={"keys": event.keys, "error": exc})
        return None


def registry_events_in(events: Sequence[Event], registry: int) -> list[RegistryEvent]:
    """The Registry's events among `events` (a receipt's, say), decoded, in order."""
    decoded = (decode_event(e) for e in events if e.from_address == registry)
    return [event for event in decoded if event is not None]


INVALID_CONTINUATION_TOKEN = 33


@dataclass(frozen=True)
class EventCursor:
    """Where an event stream stands: the next block to read, the page within it, events done."""

    block_number: int = 0
    continuation_token: str | None = None
    delivered: int = 0
    """How many events of the page at `continuation_token` were already delivered."""


class InvalidCursor(ValueError):
    """The node does not know the cursor's continuation token (another node, or a reset chain)."""

    def __init__(self, cursor: EventCursor) -> None:
        super().__init__(
            f"the node rejects continuation token {cursor.continuation_token!r} of {cursor}; "
            f"resume from EventCursor({cursor.block_number}) and drop events already handled")
        self.cursor = cursor


@dataclass(frozen=True)
class EventRecord:
    """A Registry event where the chain holds it, and the cursor just after it."""

    event: RegistryEvent
    cursor: EventCursor
    transaction_hash: int
    block_number: int | None


async def read_events(
    client: Client,
    registry: int,
    cursor: EventCursor,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    until_block: int | None = None,
) -> tuple[list[EventRecord], EventCursor]:
    """One page of the Registry's events from `cursor` (up to block `until_block` if given),
    and the cursor after the page (`cursor` itself when there is nothing new yet).

    Raises InvalidCursor when the node rejects the cursor's continuation token; other node
    errors propagate.
    """
    latest = await client.get_block_number()
    if until_block is not None:
        latest = min(latest, until_block)
    if cursor.block_number > latest:
        return [], cursor
    try:
        page = await client.get_events(
            address=registry, from_block_number=cursor.block_number,
            to_block_number=latest, continuation_token=cursor.continuation_token,
            chunk_size=chunk_size)
    except ClientError as exc:
        if exc.code == INVALID_CONTINUATION_TOKEN:
            raise InvalidCursor(cursor) from exc
        raise
    end = (EventCursor(cursor.block_number, page.continuation_token)
           if page.continuation_token else EventCursor(latest + 1))
    events = []
    for index, event in enumerate(page.events):
        after = (end if index == len(page.events) - 1
                 else EventCursor(cursor.block_number, cursor.continuation_token, index + 1))
        if index >= cursor.delivered and (decoded := decode_event(event)) is not None:
            events.append(EventRecord(decoded, after, event.transaction_hash,
                                      event.block_number))
    return events, end


async def registry_events(
    client: Client,
    registry: int,
    cursor: EventCursor = EventCursor(),
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    poll_interval: float = DEFAULT_POLL_INTERVAL_S,
    until_block: int | None = None,
) -> AsyncIterator[tuple[RegistryEvent, EventCursor]]:
    """Yield the Registry's events from `cursor` on, each with the cursor just after it.

    Reads accepted blocks only; polls every `poll_interval` seconds once caught up, or stops
    after block `until_block` if given; retries (with a warning) while the node is
    unreachable. Keep the same `chunk_size` when resuming from a saved cursor.
    """
    while until_block is None or cursor.block_number <= until_block:
        try:
            events, after = await read_events(client, registry, cursor, chunk_size=chunk_size,
                                              until_block=until_block)
        except (ClientError, aiohttp.ClientError, OSError) as exc:
            _log_retry(cursor, exc)
            await asyncio.sleep(poll_interval)
            continue
        for record in events:
            yield record.event, record.cursor
        if after == cursor:
            await asyncio.sleep(poll_interval)
        cursor = after


def _log_retry(cursor: EventCursor, error: Exception) -> None:
    logger.warning("cannot read registry events; retrying",
                   extra={"block": cursor.block_number, "error": repr(error)})
