"""Host factory: Noise + Yamux only, identify and ping, dialing with backoff, limits."""

from __future__ import annotations

import multiaddr
import pytest
import trio
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.custom_types import TProtocol
from libp2p.host.ping import ID as PING_PROTOCOL
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.security.insecure.transport import PLAINTEXT_PROTOCOL_ID, InsecureTransport

from p2p import params
from p2p.host import bootstrap, connect_with_backoff, connection_config, p2p_addr, peer_info
from p2p.yamux import SerialYamux
from tests.p2p.nodes import connect, ping_ok, running_host, running_hosts


async def test_connected_hosts_ping_and_identify_each_other():
    async with running_hosts(2) as (a, b):
        await connect(a, b)
        assert await ping_ok(a, b)
        with trio.fail_after(5):
            while PING_PROTOCOL not in a.get_peerstore().get_protocols(b.get_id()):
                await trio.sleep(0.05)


async def test_connections_use_serialising_yamux_one_per_peer():
    async with running_hosts(2) as (a, b):
        await connect(a, b)
        await connect(a, b)
        conns = a.get_network().connections[b.get_id()]
        assert len(conns) == 1
        assert isinstance(conns[0].muxed_conn, SerialYamux)
        assert a.get_network().connection_config.max_connections_per_peer == 1


async def test_plaintext_dialer_is_refused_and_host_keeps_running():
    key_pair = create_new_key_pair()
    plain = new_host(
        key_pair=key_pair,
        sec_opt={TProtocol(PLAINTEXT_PROTOCOL_ID): InsecureTransport(key_pair)},
    )
    async with running_hosts(2) as (ours, other):
        async with plain.run([multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]):
            with pytest.raises(Exception), trio.fail_after(15):  # noqa: B017 - any dial error
                await plain.connect(peer_info(p2p_addr(ours)))
            assert plain.get_id() not in ours.get_network().connections
        await connect(other, ours)
        assert await ping_ok(other, ours)


async def test_dial_to_dead_address_retries_then_gives_up():
    dead = PeerInfo(
        ID.from_pubkey(create_new_key_pair().public_key),
        [multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/1")],
    )
    async with running_host() as host:
        with trio.fail_after(15):
            assert not await connect_with_backoff(host, dead, retries=2, initial_delay=0.01)


async def test_bootstrap_connects_to_live_peers_and_skips_dead_ones():
    dead_id = ID.from_pubkey(create_new_key_pair().public_key)
    async with running_hosts(3) as (node, boot1, boot2):
        addrs = [p2p_addr(boot1), p2p_addr(boot2), f"/ip4/127.0.0.1/tcp/1/p2p/{dead_id}"]
        with trio.fail_after(30):
            assert await bootstrap(node, addrs) == 2
        assert await ping_ok(node, boot2)


@pytest.mark.parametrize(
    "addr", ["", "not-a-multiaddr", "/ip4/127.0.0.1/tcp/4001", "/ip4/1.2.3.4/tcp/x/p2p/abc"]
)
def test_bad_peer_address_is_a_clear_error(addr):
    with pytest.raises(ValueError, match="bad peer address"):
        peer_info(addr)


def test_connection_limits_come_from_params():
    config = connection_config()
    assert config.max_connections == params.MAX_CONNECTIONS
    assert config.max_connections_per_peer == 1
