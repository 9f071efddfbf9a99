"""Noise over a read-ahead connection: same bytes on the wire, fewer socket reads."""

from __future__ import annotations

import os

import multiaddr
import trio
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519
from libp2p.custom_types import TProtocol
from libp2p.io.trio import TrioTCPStream
from libp2p.network.connection.raw_connection import RawConnection
from libp2p.network.stream.net_stream import INetStream
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.utils import read_varint_prefixed_bytes
from libp2p.utils.varint import encode_varint_prefixed

from p2p.host import p2p_addr, peer_info
from p2p.readahead import READ_AHEAD, ReadAheadConnection
from tests.p2p.nodes import running_host

ECHO = TProtocol("/test/echo/1.0.0")


class CountedReads(RawConnection):
    """A real TCP raw connection that counts the socket reads made on it."""

    reads = 0

    async def read(self, n: int | None = None) -> bytes:
        self.reads += 1
        return await super().read(n)


async def tcp_pair() -> tuple[trio.SocketStream, CountedReads]:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    client = await trio.open_tcp_stream("127.0.0.1", port)
    server = await listeners[0].accept()
    await listeners[0].aclose()
    return client, CountedReads(TrioTCPStream(server), initiator=False)


async def test_reads_of_any_size_come_from_one_socket_read_in_order():
    sender, raw = await tcp_pair()
    payload = os.urandom(5000)
    await sender.send_all(payload)
    await trio.sleep(0.05)  # all of it in the socket before the first read
    conn = ReadAheadConnection(raw)
    parts = [await conn.read(2), await conn.read(1000), await conn.read(None)]
    assert b"".join(parts) == payload
    assert [len(p) for p in parts] == [2, 1000, 3998]
    assert raw.reads == 1
    await sender.aclose()
    assert await conn.read(10) == b""  # the peer's close reads as the end


async def test_a_read_never_returns_more_than_asked_nor_more_than_one_socket_read():
    sender, raw = await tcp_pair()
    conn = ReadAheadConnection(raw)
    payload = os.urandom(3 * READ_AHEAD)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender.send_all, payload)
        got = bytearray()
        while len(got) < len(payload):
            chunk = await conn.read(READ_AHEAD + 7)
            assert 0 < len(chunk) <= READ_AHEAD
            got += chunk
    assert bytes(got) == payload
    await sender.aclose()


async def echo(stream: INetStream) -> None:
    while True:
        message = await read_varint_prefixed_bytes(stream)
        await stream.write(encode_varint_prefixed(message))


async def test_a_host_with_py_libp2p_noise_talks_to_ours_both_ways_small_and_large():
    key_pair = create_new_key_pair()
    stock = new_host(
        key_pair=key_pair,
        sec_opt={
            NOISE_PROTOCOL_ID: NoiseTransport(key_pair, noise_privkey=create_x25519().private_key)
        },
    )
    messages = [os.urandom(size) for size in (1, 462, 70_000, 300_000, 3)]
    listen = [multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]
    async with running_host() as ours, stock.run(listen):
        ours.set_stream_handler(ECHO, echo)
        stock.set_stream_handler(ECHO, echo)
        await stock.connect(peer_info(p2p_addr(ours)))
        with trio.fail_after(20):
            for dialer, target in ((stock, ours), (ours, stock)):
                stream = await dialer.new_stream(target.get_id(), [ECHO])
                for message in messages:
                    await stream.write(encode_varint_prefixed(message))
                for message in messages:
                    assert await read_varint_prefixed_bytes(stream) == message
                await stream.close()
