"""Real hosts on 127.0.0.1 for the p2p tests."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import trio
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.keys import KeyPair
from libp2p.host.ping import PingService

from p2p.content import ContentStore
from p2p.gossip import Gossip, GossipMessage
from p2p.host import (
    GuardedHost,
    HostConfig,
    connect_with_backoff,
    listen_multiaddrs,
    make_host,
    p2p_addr,
    peer_info,
)
from p2p.validation import TopicValidator


@asynccontextmanager
async def running_host(
    key_pair: KeyPair | None = None, port: int = 0
) -> AsyncIterator[GuardedHost]:
    """A started host listening on 127.0.0.1 (an ephemeral port unless `port` is given)."""
    host = make_host(key_pair or create_new_key_pair())
    config = HostConfig(listen_addrs=(f"/ip4/127.0.0.1/tcp/{port}",))
    async with host.run(listen_multiaddrs(config)):
        yield host


@asynccontextmanager
async def running_hosts(count: int) -> AsyncIterator[list[GuardedHost]]:
    """`count` started hosts, not connected to each other."""
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(running_host()) for _ in range(count)]


async def connect(dialer: GuardedHost, target: GuardedHost) -> None:
    """Connect `dialer` to `target`; fails the test if that is impossible."""
    assert await connect_with_backoff(dialer, peer_info(p2p_addr(target)), retries=3)


async def connect_chain(hosts: list[GuardedHost]) -> None:
    """Connect hosts in a line: 0-1, 1-2, ... (so most pairs have no direct connection)."""
    for left, right in itertools.pairwise(hosts):
        await connect(right, left)


async def ping_ok(pinger: GuardedHost, target: GuardedHost) -> bool:
    """True if `target` answers a libp2p ping from `pinger` within 5 s."""
    with trio.move_on_after(5):
        rtts = await PingService(pinger).ping(target.get_id(), ping_amt=1)
        return len(rtts) == 1
    return False


@asynccontextmanager
async def running_gossip(
    hosts: list[GuardedHost], topic: str, validator: TopicValidator
) -> AsyncIterator[list[tuple[Gossip, trio.MemoryReceiveChannel[GossipMessage]]]]:
    """Gossip on every host, each subscribed to `topic`."""
    async with AsyncExitStack() as stack:
        nodes = []
        for host in hosts:
            gossip = await stack.enter_async_context(Gossip(host, {topic: validator}).run())
            nodes.append((gossip, await gossip.subscribe(topic)))
        yield nodes


async def wait_for_mesh(gossips: list[Gossip], topic: str, timeout: float = 15) -> None:
    """Wait until every node has at least one mesh peer on `topic`."""
    with trio.fail_after(timeout):
        for gossip in gossips:
            while not gossip.router.mesh.get(topic):
                await trio.sleep(0.05)


async def receive_all(
    channel: trio.MemoryReceiveChannel[GossipMessage], count: int, timeout: float = 60
) -> list[GossipMessage]:
    """Receive exactly `count` messages or fail after `timeout` seconds."""
    with trio.fail_after(timeout):
        return [await channel.receive() for _ in range(count)]


async def nothing_more(channel: trio.MemoryReceiveChannel[GossipMessage], wait: float) -> bool:
    """True if no message arrives on `channel` within `wait` seconds."""
    with trio.move_on_after(wait):
        await channel.receive()
        return False
    return True


@asynccontextmanager
async def content_stores(hosts: list[GuardedHost]) -> AsyncIterator[list[ContentStore]]:
    """A running ContentStore on every host."""
    async with AsyncExitStack() as stack:
        stores = [ContentStore(host) for host in hosts]
        for store in stores:
            await stack.enter_async_context(store.run())
        yield stores
