"""A new connection's identify and gossipsub streams wait while it carries a request."""

from __future__ import annotations

import os
from contextlib import AsyncExitStack

import trio
from libp2p.abc import INetStream, INetwork
from libp2p.peer.id import ID
from libp2p.utils import encode_varint_prefixed
from libp2p.utils.varint import read_varint_prefixed_bytes_limited

from p2p import fetch, params
from p2p.bufstream import BufferedStream
from p2p.content import ContentStore
from p2p.host import GuardedHost, p2p_addr, peer_info
from p2p.housekeeping import held
from p2p.multistream import open_with_request
from p2p.notifee import Notifee
from p2p.records import record_key
from p2p.validation import Verdict
from tests.p2p.nodes import connect, ping_ok, running_gossip, running_hosts, wait_for_mesh

TOPIC = params.TOPIC_JOBS


def accept(data: bytes, origin: ID) -> Verdict:
    return Verdict.accept()


class OpenedStreams(Notifee):
    """Every stream opened on a host (either way), with the time it was opened."""

    def __init__(self) -> None:
        self.streams: list[tuple[float, INetStream]] = []

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        self.streams.append((trio.current_time(), stream))

    def protocols_before(self, moment: float) -> set[str]:
        return {str(stream.get_protocol()) for at, stream in self.streams if at < moment}


def know(host: GuardedHost, other: GuardedHost) -> None:
    """Put `other`'s address in `host`'s peerstore (as a DHT answer naming it does)."""
    info = peer_info(p2p_addr(other))
    host.get_peerstore().add_addrs(info.peer_id, info.addrs, params.PEER_ADDR_TTL)


async def identified_both_ways(a: GuardedHost, b: GuardedHost, timeout: float = 10) -> None:
    with trio.fail_after(timeout):
        while b.get_id() not in a._identified_peers or a.get_id() not in b._identified_peers:
            await trio.sleep(0.01)


async def housekeeping_done(a: GuardedHost, b: GuardedHost, gossips: list) -> None:
    """Wait until `a` and `b` identified each other and joined each other's mesh."""
    await identified_both_ways(a, b)
    await wait_for_mesh([gossip for gossip, _ in gossips], TOPIC)


async def test_a_fetch_over_a_new_connection_goes_first_and_the_mesh_still_forms():
    async with running_hosts(2) as hosts, AsyncExitStack() as stack:
        provider, getter = hosts
        provider.housekeeping.grace = 1.0  # for the request to arrive first on a loaded machine
        gossips = await stack.enter_async_context(running_gossip(hosts, TOPIC, accept))
        store = await stack.enter_async_context(ContentStore(provider).run())
        value = os.urandom(1024 * 1024)
        key = record_key(params.NS_BODY, value)
        store.local.put(key, value)
        opened = {host: OpenedStreams() for host in hosts}
        for host, notifee in opened.items():
            host.get_network().register_notifee(notifee)
        know(getter, provider)
        with trio.fail_after(20):
            assert await fetch.fetch(getter, provider.get_id(), key) == value
        fetched = trio.current_time()
        # Until the value was in, the fetch was the only stream on the new connection.
        for notifee in opened.values():
            assert notifee.protocols_before(fetched) == {params.FETCH_PROTOCOL}
        await housekeeping_done(getter, provider, gossips)


async def test_a_provider_s_streams_wait_until_the_requester_has_the_value(monkeypatch):
    monkeypatch.setattr(params, "HOUSEKEEPING_MAX_DELAY", 10.0)
    async with running_hosts(2) as (provider, getter), ContentStore(provider).run() as store:
        provider.housekeeping.max_delay = 10.0
        value = os.urandom(1000)
        key = record_key(params.NS_BODY, value)
        store.local.put(key, value)
        know(getter, provider)
        request = encode_varint_prefixed(key.encode())
        stream = await open_with_request(getter, provider.get_id(), fetch.PROTOCOL, request)
        reader = BufferedStream(stream)
        assert await reader.read(1) == bytes([fetch.Status.FOUND])
        assert await read_varint_prefixed_bytes_limited(reader, 2000) == value
        await trio.sleep(0.3)
        assert getter.get_id() not in provider._identified_peers  # the requester reads on
        await stream.close()
        with trio.fail_after(10):
            while getter.get_id() not in provider._identified_peers:
                await trio.sleep(0.01)


async def test_held_housekeeping_starts_at_its_limit():
    async with running_hosts(2) as (a, b), AsyncExitStack() as stack:
        gossips = await stack.enter_async_context(running_gossip([a, b], TOPIC, accept))
        a.housekeeping.max_delay = 0.3
        with held(a, b.get_id()):  # a request that never gets its answer
            await connect(a, b)
            await housekeeping_done(a, b, gossips)


async def test_a_connection_closed_while_its_housekeeping_waits():
    async with running_hosts(2) as (a, b), AsyncExitStack() as stack:
        gossips = await stack.enter_async_context(running_gossip([a, b], TOPIC, accept))
        a.housekeeping.max_delay = 60.0
        with held(a, b.get_id()):
            await connect(a, b)
            with trio.fail_after(10):  # b, not held, identifies a
                while a.get_id() not in b._identified_peers:
                    await trio.sleep(0.01)
            assert b.get_id() not in a._identified_peers  # a's identify waits
            await a.disconnect(b.get_id())
            with trio.fail_after(5):  # a's waiting identify gave up with the connection
                while b.get_id() in a._identify_inflight:
                    await trio.sleep(0.01)
        assert b.get_id() not in a._identified_peers
        assert b.get_id() not in gossips[0][0].pubsub.peers
        # a keeps running: it identifies b on a new connection (b knows a already), and both
        # join the mesh
        await connect(a, b)
        with trio.fail_after(10):
            while b.get_id() not in a._identified_peers:
                await trio.sleep(0.01)
        await wait_for_mesh([gossip for gossip, _ in gossips], TOPIC)
        assert await ping_ok(a, b)


async def test_a_connection_the_peer_dialed_waits_for_the_request_it_carries():
    async with running_hosts(2) as (a, b):
        b.housekeeping.grace = 0.2
        with held(b, a.get_id()):  # b answers a request a sent
            await connect(a, b)
            await trio.sleep(0.4)  # past the grace: the request holds b's streams now
            assert b.get_id() in a._identified_peers
            assert a.get_id() not in b._identified_peers
        await identified_both_ways(a, b)
