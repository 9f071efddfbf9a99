"""Pipelined multistream-select and requests sent with the proposal, against real hosts."""

from __future__ import annotations

from functools import partial

import multiaddr
import pytest
import trio
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.keys import KeyPair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519
from libp2p.custom_types import TProtocol
from libp2p.identity.identify.identify import ID as IDENTIFY
from libp2p.network.exceptions import SwarmException
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.protocol_muxer.exceptions import ProtocolNotSupportedError
from libp2p.security.insecure.transport import PLAINTEXT_PROTOCOL_ID, InsecureTransport
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.mplex.mplex import MPLEX_PROTOCOL_ID, Mplex

from p2p.host import GuardedHost
from p2p.multistream import open_with_request
from tests.p2p.nodes import connect, ping_ok, running_host

ECHO = TProtocol("/test/echo/1.0.0")


async def echo(stream) -> None:
    """Answer one request with the same bytes."""
    await stream.write(await stream.read(4096))
    await stream.close()


async def ask(host: GuardedHost, peer: ID, protocol: TProtocol = ECHO) -> bytes:
    with trio.fail_after(10):
        stream = await open_with_request(host, peer, protocol, b"ping?")
        try:
            return await stream.read(4096)
        finally:
            await stream.close()


async def test_a_request_reaches_a_stock_host_before_identify_has_answered():
    """A stock py-libp2p host (standard listener, several security and muxer options) whose
    identify answer takes 10 s: the dial's pipelined negotiations and a request sent with its
    protocol proposal are answered at once, before our host knows the peer's protocols."""
    stock = new_host(key_pair=create_new_key_pair())
    stock.set_stream_handler(ECHO, echo)
    identify = stock.multiselect.handlers[IDENTIFY]

    async def slow_identify(stream) -> None:
        await trio.sleep(10)
        await identify(stream)

    stock.multiselect.handlers[IDENTIFY] = slow_identify
    listen = [multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]
    async with stock.run(listen), running_host() as ours:
        with trio.fail_after(8):
            await connect(ours, stock)
            assert await ask(ours, stock.get_id()) == b"ping?"
            stream = await ours.new_stream(stock.get_id(), [ECHO])  # pipelined, no request
            await stream.write(b"again")
            assert await stream.read(4096) == b"again"
        assert not ours.get_peerstore().get_protocols(stock.get_id())  # identify pending


async def test_a_refused_proposal_is_a_clear_error_and_the_host_carries_on():
    """The peer answers "na" to a protocol proposed with its request: ProtocolNotSupportedError
    naming it, the stream is reset, and the same connection serves the next requests."""
    async with running_host() as server, running_host() as client:
        server.set_stream_handler(ECHO, echo)
        await connect(client, server)
        for _ in range(2):
            with pytest.raises(ProtocolNotSupportedError, match=r"/test/unknown/1\.0\.0"):
                await ask(client, server.get_id(), TProtocol("/test/unknown/1.0.0"))
            assert await ask(client, server.get_id()) == b"ping?"
        with trio.fail_after(10):  # several protocols: the refused first, then the next
            stream = await client.new_stream(server.get_id(), [TProtocol("/test/old"), ECHO])
        assert stream.get_protocol() == ECHO
        await stream.reset()
        assert len(client.get_network().connections[server.get_id()]) == 1
        assert await ping_ok(client, server)


async def test_a_listener_that_speaks_no_multistream_fails_the_dial_cleanly():
    """A non-libp2p service at a peer's address answers garbage to the multistream header:
    the dial fails, the host keeps running."""

    async def garbage(conn: trio.SocketStream) -> None:
        await conn.send_all(b"\x05HTTP/1.1 400\r\n\r\n")
        await trio.sleep(1)

    async with trio.open_nursery() as nursery:
        (listener,) = await nursery.start(partial(trio.serve_tcp, garbage, 0, host="127.0.0.1"))
        port = listener.socket.getsockname()[1]
        stranger = ID.from_pubkey(create_new_key_pair().public_key)
        addr = multiaddr.Multiaddr(f"/ip4/127.0.0.1/tcp/{port}")
        async with running_host() as host, running_host() as other:
            with pytest.raises(Exception), trio.fail_after(10):  # noqa: B017 - any dial error
                await host.connect(PeerInfo(stranger, [addr]))
            assert stranger not in host.get_network().connections
            await connect(other, host)
            assert await ping_ok(other, host)
        nursery.cancel_scope.cancel()


def plaintext_only(key_pair: KeyPair):
    return new_host(
        key_pair=key_pair, sec_opt={PLAINTEXT_PROTOCOL_ID: InsecureTransport(key_pair)}
    )


def mplex_only(key_pair: KeyPair):
    noise = NoiseTransport(key_pair, create_x25519().private_key)
    return new_host(
        key_pair=key_pair, sec_opt={NOISE_PROTOCOL_ID: noise}, muxer_opt={MPLEX_PROTOCOL_ID: Mplex}
    )


@pytest.mark.parametrize("make_peer", [plaintext_only, mplex_only])
async def test_a_peer_refusing_noise_or_yamux_fails_the_dial_and_the_host_carries_on(make_peer):
    """Noise is proposed with the handshake's first message: a listener without it answers
    "na" and the dial fails, as does one without Yamux; nothing stays connected."""
    peer = make_peer(create_new_key_pair())
    listen = [multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]
    async with peer.run(listen), running_host() as host, running_host() as other:
        with pytest.raises(SwarmException, match="unable to connect"), trio.fail_after(10):
            await host.connect(PeerInfo(peer.get_id(), peer.get_addrs()))
        assert not host.get_network().get_connections(peer.get_id())
        await connect(host, other)
        assert await ping_ok(host, other)
