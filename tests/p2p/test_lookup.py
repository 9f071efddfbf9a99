"""The DHT walk: alpha queries at a time, each peer asked once, the first answer wins."""

from __future__ import annotations

import trio
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo

from p2p import params
from p2p.dht import _ProviderFetches
from p2p.lookup import Walk

PEERS = [ID.from_pubkey(create_new_key_pair().public_key) for _ in range(12)]
ME = PEERS[0]


class Network:
    """Peer n names peers n+1 to n+3 as closer; `holders` answer; `broken` fail or hang."""

    def __init__(self, holders: set[ID], broken: dict[ID, str] | None = None) -> None:
        self.holders = holders
        self.broken = broken or {}
        self.asked: list[ID] = []
        self.in_flight = 0
        self.most_in_flight = 0

    async def query(self, peer: ID) -> tuple[bytes | None, list[ID]]:
        self.asked.append(peer)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await trio.sleep(0.01)
            if self.broken.get(peer) == "raises":
                raise ConnectionError("peer went away")
            if self.broken.get(peer) == "hangs":
                await trio.sleep_forever()
            index = PEERS.index(peer)
            closer = [*PEERS[index + 1 : index + 4], ME]
            return (b"value" if peer in self.holders else None), closer
        finally:
            self.in_flight -= 1


async def test_the_walk_follows_closer_peers_to_the_value_alpha_at_a_time(autojump_clock):
    network = Network(holders={PEERS[9]})
    assert await Walk(b"key", [PEERS[1]], network.query, ME).run() == b"value"
    assert PEERS[9] in network.asked
    assert len(network.asked) == len(set(network.asked))  # nobody asked twice, never ourselves
    assert ME not in network.asked
    assert network.most_in_flight <= params.DHT_ALPHA


async def test_without_a_holder_every_peer_found_is_asked_once_then_none(autojump_clock):
    network = Network(holders=set())
    assert await Walk(b"key", [PEERS[1]], network.query, ME).run() is None
    assert sorted(network.asked, key=PEERS.index) == PEERS[1:]


async def test_failing_and_silent_peers_do_not_stop_the_walk(autojump_clock):
    network = Network(holders={PEERS[6]}, broken={PEERS[2]: "raises", PEERS[3]: "hangs"})
    with trio.fail_after(params.DHT_QUERY_TIMEOUT * 3):
        assert await Walk(b"key", [PEERS[1]], network.query, ME).run() == b"value"


async def test_no_new_query_starts_while_a_peer_is_sending_the_value(autojump_clock):
    """The first peer asked starts sending the value (a provider's transfer) and takes 5 s;
    meanwhile the other start peers' answers name closer peers, which are not asked."""
    sending = trio.Event()
    network = Network(holders=set())

    async def query(peer: ID) -> tuple[bytes | None, list[ID]]:
        if peer == PEERS[1]:
            sending.set()
            await trio.sleep(5)
            return b"value", []
        return await network.query(peer)

    walk = Walk(b"key", PEERS[1:4], query, ME, query_timeout=60, busy=sending.is_set)
    assert await walk.run() == b"value"
    assert set(network.asked) == {PEERS[2], PEERS[3]}  # the start peers, nobody after them


async def test_queries_held_back_while_busy_start_once_it_ends(autojump_clock):
    """The first peer asked is busy fetching for 1 s (a provider within its head start, not
    sending yet) and never answers; the peers the others name are asked once it is over."""
    network = Network(holders={PEERS[6]})
    fetch_started: list[float] = []

    async def query(peer: ID) -> tuple[bytes | None, list[ID]]:
        if peer == PEERS[1]:
            fetch_started.append(trio.current_time())
            await trio.sleep_forever()
        return await network.query(peer)

    def busy() -> bool:
        return bool(fetch_started) and trio.current_time() - fetch_started[0] < 1.0

    walk = Walk(b"key", PEERS[1:4], query, ME, query_timeout=60, busy=busy)
    assert await walk.run() == b"value"
    assert set(network.asked[:2]) == {PEERS[2], PEERS[3]}
    assert len(network.asked) > 2
    # the peers named waited for the end of the head start, not for the silent peer's timeout
    assert 1.0 <= trio.current_time() - fetch_started[0] < 1.5


async def test_a_provider_is_busy_for_its_head_start_or_while_it_sends(autojump_clock):
    """A provider that does not answer keeps the walk waiting for its head start only; one
    that sends the value keeps it waiting until the transfer ends."""
    busy_seen: list[tuple[float, bool]] = []

    async def fetch(info: PeerInfo, found: trio.Event) -> bytes | None:
        if info.peer_id == PEERS[2]:
            found.set()
            await trio.sleep(3)
            return b"value"
        await trio.sleep(2)
        return None

    fetches = _ProviderFetches(fetch, tried=set(), head_start=1.0)

    async def watch() -> None:  # looks at 0.25 s, 0.75 s, ... (never at a step's edge)
        await trio.sleep(0.25)
        for _ in range(10):
            busy_seen.append((trio.current_time(), fetches.busy()))
            await trio.sleep(0.5)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch)
        providers = [PeerInfo(PEERS[1], []), PeerInfo(PEERS[2], [])]
        assert await fetches.first_value(providers) == b"value"
    assert [busy for _, busy in busy_seen] == [
        True, True, False, False,  # silent provider: 1 s head start, then no longer busy
        True, True, True, True, True, True,  # the next one sends for 3 s
    ]
