"""Kad-DHT set up for content-addressed records (standard /ipfs/kad/1.0.0 protocol).

py-libp2p 0.8.1 defects worked around here (tests in tests/p2p/test_content.py):
- its FIND_NODE handler ignores keys longer than 50 bytes that are not multihashes, so a
  lookup for a namespaced record key (/zetina-body/<64 hex>, 77 bytes) gets no closer peers
  from py-libp2p servers and puts/gets reach only the peers one already knows.
  `RecordKeyRouting` looks such keys up under their sha2-256 multihash instead; GET_VALUE and
  PUT_VALUE still carry the real key, and every node of ours looks up the same target.
- connected peers are never added to the routing table; `RoutingTableFeeder` does it, once
  a peer's addresses are known (an inbound peer's come with identify, after the connection:
  added at once, it was skipped, so nodes reached only the peers they had dialed).
- `get_value` and `find_providers` run a whole FIND_NODE walk before asking for the value,
  each in a walk of its own; `find` asks each peer for the record and its providers at once,
  on the way (p2p.lookup, p2p.kad_request). Provider records are announced under the
  record key's lookup target, so one walk leads to the holders of either.
- its server takes at most 10 ADD_PROVIDER requests per peer in 10 s and drops the rest
  silently: a delegator that published 12 values at once, or republished its values, had the
  provider records of all but 10 dropped by every node. The bound is raised here
  (params.PROVIDER_ANNOUNCES_PER_PEER).
- its request handler takes a requester's clean close after an answer (Yamux raises StreamEOF
  where the handler expects an empty read) for a failure: a "Failed to read DHT message from
  stream" warning and a stream reset for nearly every request served. The handler reads
  through a `BufferedStream` that turns the end of the stream into an empty read (and reads
  a message in one go, not byte by byte).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Awaitable, Callable, Sequence

import trio
from libp2p.abc import IHost, INetConn, INetStream, INetwork
from libp2p.kad_dht.kad_dht import DHTMode, KadDHT
from libp2p.kad_dht.peer_routing import PeerRouting
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.peer.peerstore import PeerStoreError
from libp2p.records.validator import NamespacedValidator

from p2p import params
from p2p.bufstream import BufferedStream
from p2p.kad_request import Answer, ask_record_and_providers
from p2p.lookup import Walk
from p2p.notifee import Notifee
from p2p.records import Sha256Validator

logger = logging.getLogger(__name__)


def lookup_target(key: bytes) -> bytes:
    """The FIND_NODE target for a DHT key: namespaced keys become a sha2-256 multihash."""
    if key.startswith(b"/"):
        return bytes([0x12, 0x20]) + hashlib.sha256(key).digest()
    return key


class RecordKeyRouting(PeerRouting):
    """Peer routing whose network lookups use `lookup_target` keys."""

    async def find_closest_peers_network(self, target_key: bytes, count: int = 20) -> list[ID]:
        """The `count` peers closest to the key's lookup target."""
        return await super().find_closest_peers_network(lookup_target(target_key), count)


class RecordDHT(KadDHT):
    """A server-mode Kad-DHT accepting only content-addressed records in its namespaces."""

    def __init__(self, host: IHost, namespaces: Sequence[str]) -> None:
        validator = NamespacedValidator(
            {ns: Sha256Validator(ns) for ns in namespaces}, strict_validation=True
        )
        super().__init__(
            host,
            DHTMode.SERVER,
            validator=validator,
            validator_changed=True,
            strict_validation=True,
        )
        self.peer_routing = RecordKeyRouting(host, self.routing_table)
        self.provider_store.peer_routing = self.peer_routing
        self._provider_rate_max = params.PROVIDER_ANNOUNCES_PER_PEER

    async def _do_handle_stream(self, stream: INetStream) -> None:
        await super()._do_handle_stream(BufferedStream(stream, eof_is_empty=True))  # type: ignore[arg-type]

    async def find(
        self,
        key: str,
        valid: Callable[[bytes], bool],
        fetch: Callable[[PeerInfo, trio.Event], Awaitable[bytes | None]],
    ) -> bytes | None:
        """The value of `key`: a record held here or by a peer that `valid` accepts, or the
        first value `fetch` gets from a provider. Providers known here are tried first, then
        one walk asks each peer for the record and the providers at once (p2p.kad_request),
        fetching from each new provider as it is named; no FIND_NODE beforehand, no write-back.
        While a provider is fetched from (for params.PROVIDER_HEAD_START seconds, or as long
        as it sends the value: `fetch` sets its event then), the walk starts no new query.
        """
        key_bytes = key.encode()
        local = self.value_store.get(key_bytes)
        if local is not None and valid(local.value):
            return local.value
        target = lookup_target(key_bytes)
        providers = _ProviderFetches(fetch, tried={self.local_peer_id})

        async def ask(peer: ID) -> tuple[bytes | None, list[ID]]:
            answer = Answer()
            with trio.move_on_after(params.DHT_QUERY_TIMEOUT):
                answer = await ask_record_and_providers(self.host, peer, key_bytes, target)
            if answer.value is not None and valid(answer.value):
                return answer.value, answer.closer
            return await providers.first_value(answer.providers), answer.closer

        value = await providers.first_value(self.provider_store.get_providers(target))
        if value is not None:
            return value
        start = self.routing_table.find_local_closest_peers(target)
        walk = Walk(
            target, start, ask, self.local_peer_id, query_timeout=math.inf, busy=providers.busy
        )
        return await walk.run()


class _ProviderFetches:
    """Fetches a value from providers, each tried once; knows whether one is under way."""

    def __init__(
        self,
        fetch: Callable[[PeerInfo, trio.Event], Awaitable[bytes | None]],
        tried: set[ID],
        head_start: float = params.PROVIDER_HEAD_START,
    ) -> None:
        self.fetch = fetch
        self.tried = tried
        self.head_start = head_start
        # per fetch under way: when it started, and an event set once the value flows
        self._under_way: list[tuple[float, trio.Event]] = []

    def busy(self) -> bool:
        """True while a provider is sending the value or is within its head start."""
        now = trio.current_time()
        return any(
            found.is_set() or now - started < self.head_start
            for started, found in self._under_way
        )

    async def first_value(self, providers: list[PeerInfo]) -> bytes | None:
        """The value from the first of `providers` not tried before that delivers it."""
        for info in providers:
            if info.peer_id in self.tried:
                continue
            self.tried.add(info.peer_id)
            fetch = (trio.current_time(), trio.Event())
            self._under_way.append(fetch)
            try:
                value = await self.fetch(info, fetch[1])
            finally:
                self._under_way.remove(fetch)
            if value is not None:
                return value
        return None


def make_dht(host: IHost, namespaces: Sequence[str] = params.DHT_NAMESPACES) -> RecordDHT:
    """The node's DHT for `namespaces`."""
    return RecordDHT(host, namespaces)


class RoutingTableFeeder(Notifee):
    """Adds every connected peer to the DHT routing table once its listen addresses are known.

    py-libp2p adds none, and `KadDHT.add_peer` skips a peer without addresses in the
    peerstore: the dialer's are known at once, but those of a peer that dialed us arrive with
    identify, after the connection. Each peer is therefore added from `run`'s task as soon as
    its addresses are in (waiting at most params.PEER_ADDRS_WAIT seconds).
    """

    def __init__(self, dht: KadDHT) -> None:
        self.dht = dht
        self._send, self._receive = trio.open_memory_channel[ID](math.inf)

    async def add(self, peer: ID) -> None:
        """Add `peer` to the routing table now if its addresses are known, else from `run`
        once they are."""
        if _known_addrs(self.dht.host, peer):
            await self._add(peer)
        else:
            self._send.send_nowait(peer)

    async def run(self) -> None:
        """Add the peers waiting for their addresses as these arrive, until cancelled."""
        async with trio.open_nursery() as nursery:
            async for peer in self._receive:
                nursery.start_soon(self._add_when_addressed, peer)

    async def _add_when_addressed(self, peer: ID) -> None:
        with trio.move_on_after(params.PEER_ADDRS_WAIT) as scope:
            while not _known_addrs(self.dht.host, peer):
                await trio.sleep(ADDRS_POLL_INTERVAL)
        if scope.cancelled_caught:
            logger.info("peer left out of the routing table: no address", extra={"peer": str(peer)})
            return
        await self._add(peer)

    async def _add(self, peer: ID) -> None:
        try:
            await self.dht.add_peer(peer, skip_server_mode_check=True)
        except Exception as exc:
            logger.info("routing table add failed", extra={"peer": str(peer), "error": repr(exc)})

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        await self.add(conn.muxed_conn.peer_id)


ADDRS_POLL_INTERVAL = 0.02  # seconds between looks at the peerstore for a new peer's addresses


def _known_addrs(host: IHost, peer: ID) -> bool:
    try:
        return bool(host.get_peerstore().addrs(peer))
    except PeerStoreError:  # not (yet, or no longer) in the peerstore
        return False
