"""Job bodies and witnesses: content-addressed values in the Kad-DHT, with a direct-fetch path.

`put` stores a value locally, puts it in the DHT when it fits a DHT record, and announces this
node as a provider. `get` tries the local store, the DHT, the publishing peer (if known), then
every provider the DHT names; each value is checked against its key before it is returned.
Values we published are put and announced again every params.REPUBLISH_INTERVAL.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import trio
from libp2p.abc import IHost
from libp2p.peer.id import ID
from libp2p.tools.anyio_service import background_trio_service

from p2p import fetch, params
from p2p.dht import make_dht, routing_table_feeder
from p2p.records import (
    RecordError,
    check_record,
    content_multihash,
    record_key,
    split_record_key,
)

logger = logging.getLogger(__name__)


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

    def __init__(self, host: IHost, namespaces: Sequence[str] = params.DHT_NAMESPACES) -> None:
        self.host = host
        self.namespaces = tuple(namespaces)
        self.dht = make_dht(host, self.namespaces)
        self.local = LocalStore()
        self._published: list[str] = []
        host.get_network().register_notifee(routing_table_feeder(self.dht))
        fetch.serve(host, self.local.get)

    @asynccontextmanager
    async def run(self) -> AsyncIterator[ContentStore]:
        """Run the DHT and the re-publish loop for the duration of the block."""
        for peer in self.host.get_network().connections:
            await self.dht.add_peer(peer, skip_server_mode_check=True)
        async with background_trio_service(self.dht), trio.open_nursery() as nursery:
            nursery.start_soon(self._republish_forever)
            yield self
            nursery.cancel_scope.cancel()

    async def put(self, namespace: str, value: bytes) -> str:
        """Store and announce `value`; returns its key /<namespace>/<hex sha256>."""
        if namespace not in self.namespaces:
            raise ValueError(f"unknown namespace {namespace!r}; known: {self.namespaces}")
        if len(value) > params.MAX_VALUE:
            raise ValueError(f"value of {len(value)} bytes exceeds {params.MAX_VALUE} bytes")
        key = record_key(namespace, value)
        self.local.put(key, value)
        self._published.append(key)
        await self._announce(key, value)
        return key

    async def get(self, key: str, publisher: ID | None = None) -> bytes:
        """The value of `key`, checked against it; NotFound if no source has a valid one."""
        namespace, _ = split_record_key(key)
        value = self.local.get(key)
        if value is None:
            value = await self._from_dht(key, namespace)
        if value is None and publisher is not None:
            value = await self._from_peer(publisher, key)
        if value is None:
            value = await self._from_providers(key)
        if value is None:
            raise NotFound(f"no peer holds a valid value for {key}; is its publisher online?")
        self.local.put(key, value)
        return value

    async def _announce(self, key: str, value: bytes) -> None:
        if len(value) <= params.MAX_DHT_RECORD:
            await self.dht.put_value(key, value)
        await self.dht.provide(provider_key(key))

    async def _from_dht(self, key: str, namespace: str) -> bytes | None:
        with trio.move_on_after(params.DHT_GET_TIMEOUT):
            try:
                value = await self.dht.get_value(key)
            except Exception as exc:
                logger.info("DHT get failed", extra={"key": key, "error": repr(exc)})
                return None
            if value is None:
                return None
            try:
                check_record(key, value, namespace, params.MAX_DHT_RECORD)
            except RecordError as exc:
                logger.warning("DHT returned a bad value", extra={"key": key, "error": str(exc)})
                return None
            return value
        return None

    async def _from_peer(self, peer: ID, key: str) -> bytes | None:
        try:
            return await fetch.fetch(self.host, peer, key)
        except fetch.FetchError as exc:
            logger.info("direct fetch failed", extra={"peer": str(peer), "error": str(exc)})
            return None

    async def _from_providers(self, key: str) -> bytes | None:
        providers = []
        with trio.move_on_after(params.DHT_GET_TIMEOUT):
            providers = await self.dht.find_providers(provider_key(key))
        for provider in providers:
            if provider.peer_id == self.host.get_id():
                continue
            self.host.get_peerstore().add_addrs(provider.peer_id, provider.addrs, 600)
            value = await self._from_peer(provider.peer_id, key)
            if value is not None:
                return value
        return None

    async def _republish_forever(self) -> None:
        while True:
            await trio.sleep(params.REPUBLISH_INTERVAL)
            for key in list(self._published):
                value = self.local.get(key)
                if value is None:
                    continue
                try:
                    await self._announce(key, value)
                except Exception as exc:
                    logger.warning("re-publish failed", extra={"key": key, "error": repr(exc)})


def provider_key(key: str) -> str:
    """The provider-record key of `key`: its sha2-256 multihash, hex (as IPFS peers use)."""
    return content_multihash(key).hex()
