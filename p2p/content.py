"""Job bodies and witnesses: content-addressed values in the Kad-DHT, with a direct-fetch path.

`put` stores a value locally, puts it in the DHT when it fits a DHT record, and announces this
node as a provider. `get` tries the local store, then the publishing peer (if known), then one
DHT walk that asks each peer for the record and its providers at once and stops at the first
valid record or the first provider that delivers the value (p2p.dht `find`), and returns the
first value that checks out against its key; the slower paths are cancelled. A lookup still
costs more round trips and streams than a direct fetch (one dial, one transfer), so the publisher
gets a head start (params.PUBLISHER_HEAD_START): the lookup begins only when it has failed, or
has not begun sending the value by then, instead of competing with the fetch for the CPU and
the network (and fetching the same value a second time).
Values we published are put and announced again every params.REPUBLISH_INTERVAL.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial

import trio
from libp2p.abc import IHost
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.tools.anyio_service import background_trio_service

from p2p import fetch, params
from p2p.dht import RoutingTableFeeder, lookup_target, make_dht
from p2p.records import (
    RecordError,
    check_record,
    record_key,
    split_record_key,
)

logger = logging.getLogger(__name__)

Source = Callable[[], Awaitable["bytes | None"]]
"""One way of getting a value: returns it (checked against its key) or None."""


class NotFound(LookupError):
    """No peer produced a valid value for the key."""


class LocalStore:
    """Values this node holds, bounded by total size (oldest dropped first)."""

    def __init__(self, max_bytes: int = params.LOCAL_STORE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._values: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0

    def put(self, key: str, value: bytes) -> None:
        """Keep `value` under `key`, evicting the oldest values if over budget."""
        if key in self._values:
            return
        self._values[key] = value
        self._bytes += len(value)
        while self._bytes > self.max_bytes and len(self._values) > 1:
            _, dropped = self._values.popitem(last=False)
            self._bytes -= len(dropped)

    def get(self, key: str) -> bytes | None:
        """The value under `key`, if held."""
        return self._values.get(key)


class ContentStore:
    """Put and get content-addressed values over the DHT and direct fetch."""

    def __init__(
        self,
        host: IHost,
        namespaces: Sequence[str] = params.DHT_NAMESPACES,
        republish_interval: float = params.REPUBLISH_INTERVAL,
        publisher_head_start: float = params.PUBLISHER_HEAD_START,
    ) -> None:
        self.host = host
        self.republish_interval = republish_interval
        self.publisher_head_start = publisher_head_start
        self.namespaces = tuple(namespaces)
        self.dht = make_dht(host, self.namespaces)
        self.local = LocalStore()
        self._published: set[str] = set()
        self._nursery: trio.Nursery | None = None
        self.feeder = RoutingTableFeeder(self.dht)
        host.get_network().register_notifee(self.feeder)
        fetch.serve(host, self.local.get)

    @asynccontextmanager
    async def run(self) -> AsyncIterator[ContentStore]:
        """Run the DHT and the re-publish loop for the duration of the block."""
        for peer in self.host.get_network().connections:
            await self.feeder.add(peer)
        async with background_trio_service(self.dht), trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self.feeder.run)
            nursery.start_soon(self._republish_forever)
            yield self
            nursery.cancel_scope.cancel()

    async def put(self, namespace: str, value: bytes) -> str:
        """Store and announce `value`; returns its key /<namespace>/<hex sha256>."""
        key = self._keep(namespace, value)
        await self._announce(key, value)
        return key

    def offer(self, namespace: str, value: bytes) -> str:
        """Store `value` and announce it in the background; returns its key at once.

        For values whose readers know this node (they fetch from it directly while the DHT
        records spread): a DHT put waits on every unreachable peer it tries.
        """
        if self._nursery is None:
            raise RuntimeError("the content store is not running: use `async with store.run()`")
        key = self._keep(namespace, value)
        self._nursery.start_soon(self._announce_logged, key, value)
        return key

    def _keep(self, namespace: str, value: bytes) -> str:
        if namespace not in self.namespaces:
            raise ValueError(f"unknown namespace {namespace!r}; known: {self.namespaces}")
        if len(value) > params.MAX_VALUE:
            raise ValueError(f"value of {len(value)} bytes exceeds {params.MAX_VALUE} bytes")
        key = record_key(namespace, value)
        self.local.put(key, value)
        self._published.add(key)
        return key

    async def get(
        self, key: str, publisher: ID | None = None, patience: float = params.GET_PATIENCE
    ) -> bytes:
        """The value of `key`, checked against it; NotFound if no source had a valid one.

        A round in which some source ran out of time or could not be reached (the publisher
        or the DHT on a starved CPU) is tried again after a growing pause, for up to `patience`
        seconds; a round in which every source answered that it has no valid value is final.
        """
        namespace, _ = split_record_key(key)
        value = self.local.get(key)
        pause = params.GET_RETRY_INITIAL
        with trio.move_on_after(patience):
            while value is None:
                stalled: list[str] = []
                value = await self._get_round(key, namespace, publisher, stalled)
                if value is not None or not stalled:
                    break
                logger.info(
                    "value not found yet",
                    extra={"key": key, "stalled": ",".join(stalled), "retry_in": pause},
                )
                await trio.sleep(pause)
                pause = min(2 * pause, params.GET_RETRY_MAX)
        if value is None:
            raise NotFound(f"no peer served a valid value for {key}; is its publisher online?")
        self.local.put(key, value)
        return value

    async def _get_round(
        self, key: str, namespace: str, publisher: ID | None, stalled: list[str]
    ) -> bytes | None:
        """One try of every source; those that run out of time note it in `stalled`."""
        lookups = self._lookups(key, namespace, stalled)
        if publisher is None:
            return await _first_value(lookups)
        sending = trio.Event()  # the publisher holds the value and is sending it
        direct = [partial(self._from_peer, publisher, key, stalled, sending)]
        return await _first_value(direct, lookups, self.publisher_head_start, sending)

    def _lookups(self, key: str, namespace: str, stalled: list[str]) -> list[Source]:
        """The DHT sources of a round: one walk for the record or a provider."""
        return [partial(self._from_dht, key, namespace, stalled)]

    async def _announce(self, key: str, value: bytes) -> None:
        if len(value) <= params.MAX_DHT_RECORD:
            await self.dht.put_value(key, value)
        await self.dht.provide(provider_key(key))

    async def _from_dht(self, key: str, namespace: str, stalled: list[str]) -> bytes | None:
        def valid(value: bytes) -> bool:
            try:
                check_record(key, value, namespace, params.MAX_DHT_RECORD)
            except RecordError as exc:
                logger.warning("DHT returned a bad value", extra={"key": key, "error": str(exc)})
                return False
            return True

        async def fetch_from(provider: PeerInfo, sending: trio.Event) -> bytes | None:
            return await self._from_peer(provider.peer_id, key, stalled, sending)

        with trio.move_on_after(params.DHT_GET_TIMEOUT) as scope:
            try:
                return await self.dht.find(key, valid, fetch_from)
            except Exception as exc:
                logger.info("DHT get failed", extra={"key": key, "error": repr(exc)})
        if scope.cancelled_caught:
            stalled.append("dht")
        return None

    async def _from_peer(
        self, peer: ID, key: str, stalled: list[str], found: trio.Event | None = None
    ) -> bytes | None:
        try:
            return await fetch.fetch(self.host, peer, key, found=found)
        except fetch.FetchError as exc:
            logger.info("direct fetch failed", extra={"peer": str(peer), "error": str(exc)})
            if not exc.definitive:
                stalled.append(f"fetch from {peer}")
            return None

    async def _republish_forever(self) -> None:
        while True:
            await trio.sleep(self.republish_interval)
            for key in list(self._published):
                value = self.local.get(key)
                if value is not None:
                    await self._announce_logged(key, value)

    async def _announce_logged(self, key: str, value: bytes) -> None:
        try:
            await self._announce(key, value)
        except Exception as exc:  # the value stays here, served directly; the next round retries
            logger.warning("announcing a value failed", extra={"key": key, "error": repr(exc)})


async def _first_value(
    sources: list[Source],
    fallbacks: Sequence[Source] = (),
    head_start: float = 0.0,
    sending: trio.Event | None = None,
) -> bytes | None:
    """Run `sources` at once and `fallbacks` after `head_start` seconds, or as soon as every
    source has come back empty; once `sending` is set (a source is receiving the value) the
    fallbacks wait for the sources to fail. The first non-None result cancels the rest."""
    winner: list[bytes] = []
    sources_failed = trio.Event()
    running = len(sources)

    async def attempt(source: Source) -> None:
        value = await source()
        if value is not None and not winner:
            winner.append(value)
            nursery.cancel_scope.cancel()

    async def first(source: Source) -> None:
        nonlocal running
        await attempt(source)
        running -= 1
        if running == 0:
            sources_failed.set()

    async def fallback(source: Source) -> None:
        with trio.move_on_after(head_start):
            await sources_failed.wait()
        if sending is not None and sending.is_set():
            await sources_failed.wait()
        await attempt(source)

    async with trio.open_nursery() as nursery:
        for source in sources:
            nursery.start_soon(first, source)
        for source in fallbacks:
            nursery.start_soon(fallback, source)
    return winner[0] if winner else None


def provider_key(key: str) -> str:
    """The provider-record key of `key`, hex: its DHT lookup target, so that the peers closest
    to it hold both the record and the provider records (one walk finds either)."""
    return lookup_target(key.encode()).hex()
