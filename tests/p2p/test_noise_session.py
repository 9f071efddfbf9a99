"""Noise sessions that read and write whole buffers: the same messages as py-libp2p's Noise,
several of them opened per socket read, and a forged or cut message ends only its connection."""

from __future__ import annotations

import os

import pytest
import trio
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519
from libp2p.io.exceptions import IncompleteReadError
from libp2p.io.trio import TrioTCPStream
from libp2p.network.connection.raw_connection import RawConnection
from libp2p.peer.id import ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.security.secure_session import SecureSession

from p2p import noise_session
from p2p.noise_session import LENGTH, MAX_PLAINTEXT, TAG, NoiseError, NoiseSession
from p2p.readahead import ReadAheadNoise
from tests.p2p.nodes import connect, ping_ok, running_host
from tests.p2p.test_yamux import PROTOCOL, assert_serves, echo, stock_host


class SlowReads(RawConnection):
    """A real TCP connection whose every read waits a moment first, so that what the peer
    sends meanwhile is already in the socket."""

    async def read(self, n: int | None = None) -> bytes:
        await trio.sleep(0.05)
        return await super().read(n)


async def raw_pair(server_class: type[RawConnection] = RawConnection):
    """Two ends of one TCP connection on 127.0.0.1: (client, server)."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    client = await trio.open_tcp_stream("127.0.0.1", port)
    server = await listeners[0].accept()
    await listeners[0].aclose()
    return (RawConnection(TrioTCPStream(client), True),
            server_class(TrioTCPStream(server), False))


async def handshake(
    server_class: type[RawConnection] = RawConnection, after_handshake: bytes = b""
) -> tuple[SecureSession, NoiseSession]:
    """A stock py-libp2p Noise initiator and our responder over real TCP; the initiator
    writes `after_handshake` as soon as its handshake is done."""
    client_raw, server_raw = await raw_pair(server_class)
    client_keys, server_keys = create_new_key_pair(), create_new_key_pair()
    stock = NoiseTransport(client_keys, create_x25519().private_key)
    ours = ReadAheadNoise(server_keys, noise_privkey=create_x25519().private_key)
    sessions: dict[str, object] = {}

    async def initiate() -> None:
        session = await stock.secure_outbound(client_raw, ID.from_pubkey(server_keys.public_key))
        if after_handshake:
            await session.write(after_handshake)
        sessions["stock"] = session

    async def respond() -> None:
        sessions["ours"] = await ours.secure_inbound(server_raw)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(initiate)
            nursery.start_soon(respond)
    assert isinstance(sessions["ours"], NoiseSession)
    return sessions["stock"], sessions["ours"]  # type: ignore[return-value]


async def read_exactly(session: SecureSession, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        data += await session.read(size - len(data))
    return bytes(data)


async def test_messages_waiting_in_the_socket_are_all_opened_by_one_read():
    stock, ours = await handshake()
    messages = [os.urandom(size) for size in (1, 462, 3000, 12)]
    for message in messages:
        await stock.write(message)
    await trio.sleep(0.05)
    with trio.fail_after(10):
        assert await ours.read() == b"".join(messages)


@pytest.mark.parametrize("size", [1, MAX_PLAINTEXT, MAX_PLAINTEXT + 1, 300_000])
async def test_stock_noise_reads_what_ours_writes_and_the_other_way(size: int):
    stock, ours = await handshake()
    payload = os.urandom(size)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ours.write, payload)
            assert await read_exactly(stock, size) == payload
        async with trio.open_nursery() as nursery:
            nursery.start_soon(stock.write, payload)
            assert await read_exactly(ours, size) == payload
        await ours.write(b"still in step")  # nonces agree after either side's messages
        assert await read_exactly(stock, 13) == b"still in step"


async def test_the_session_counts_the_bytes_it_puts_on_and_takes_off_the_wire():
    """Each Noise message costs its 2-byte length and 16-byte tag besides its payload."""
    stock, ours = await handshake()
    traffic = ours._traffic
    before_sent, before_received = traffic.sent, traffic.received
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ours.write, b"x" * (MAX_PLAINTEXT + 10))  # two messages
            await read_exactly(stock, MAX_PLAINTEXT + 10)
        await stock.write(b"y" * 300)
        await read_exactly(ours, 300)
    assert traffic.sent - before_sent == MAX_PLAINTEXT + 10 + 2 * (LENGTH.size + TAG)
    assert traffic.received - before_received == 300 + LENGTH.size + TAG


async def test_a_host_counts_the_bytes_of_its_connections():
    async with running_host() as first, running_host() as second:
        await connect(first, second)
        assert await ping_ok(first, second)
        sent, received = first.traffic.sent, second.traffic.received
        assert sent > 0 and received > 0
        assert await ping_ok(first, second)  # 32 bytes out in a Yamux frame in a Noise message
        assert first.traffic.sent - sent >= 32 + 12 + LENGTH.size + TAG
        assert second.traffic.received - received >= 32 + 12 + LENGTH.size + TAG


async def test_empty_writes_send_nothing_and_an_empty_message_is_skipped():
    """py-libp2p reads an empty Noise message as the end of the connection, so ours sends
    none; one from a stock peer carries no bytes."""
    stock, ours = await handshake()
    with trio.fail_after(10):
        await ours.write(b"")
        await ours.write(b"after")
        assert await stock.read() == b"after"
        await stock.write(b"")
        await stock.write(b"next")
        assert await ours.read() == b"next"


async def test_ciphertext_read_with_the_last_handshake_message_is_not_lost():
    early = b"sent right after the handshake"
    stock, ours = await handshake(server_class=SlowReads, after_handshake=early)
    with trio.fail_after(10):
        assert await read_exactly(ours, len(early)) == early
        await ours.write(b"ok")
        assert await read_exactly(stock, 2) == b"ok"


def raw_of(session: SecureSession) -> RawConnection:
    """The TCP connection under py-libp2p's Noise session."""
    return session.conn.read_writer.read_write_closer  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "garbage",
    [LENGTH.pack(100) + os.urandom(100), LENGTH.pack(3) + b"abc", LENGTH.pack(0)],
    ids=["forged", "shorter-than-a-tag", "empty"],
)
async def test_a_message_that_is_not_authentic_fails_the_read_after_the_good_ones(
    garbage: bytes, caplog
):
    stock, ours = await handshake()
    await stock.write(b"good")
    await raw_of(stock).write(garbage)
    with trio.fail_after(10):
        assert await read_exactly(ours, 4) == b"good"
        with pytest.raises(NoiseError):
            await ours.read()
    assert "noise message not authentic or incomplete; connection closed" in caplog.text


async def test_a_connection_closed_mid_message_fails_the_read():
    stock, ours = await handshake()
    sealed = stock.conn.encrypt(b"x" * 100)  # type: ignore[attr-defined]
    await raw_of(stock).write(LENGTH.pack(len(sealed)) + sealed[:50])
    await stock.close()
    with pytest.raises(IncompleteReadError), trio.fail_after(10):
        await ours.read()


@pytest.mark.parametrize(
    "garbage",
    [LENGTH.pack(40) + os.urandom(40), LENGTH.pack(1000) + os.urandom(60), bytes(range(7, 207))],
    ids=["forged", "cut-short", "random"],
)
async def test_a_peer_sending_garbage_under_noise_loses_its_connection_and_the_node_carries_on(
    garbage: bytes, caplog, monkeypatch
):
    """Whether the garbage is a whole message or the start of one that never ends (the rest
    of a message begun may take PARTIAL_MESSAGE_TIMEOUT), only that connection ends."""
    monkeypatch.setattr(noise_session, "PARTIAL_MESSAGE_TIMEOUT", 0.5)
    async with running_host() as ours, stock_host() as stock, running_host() as other:
        ours.set_stream_handler(PROTOCOL, echo)
        await connect(stock, ours)
        conn = ours.get_network().connections[stock.get_id()][0].muxed_conn
        assert isinstance(conn.secured_conn, NoiseSession)
        secured = stock.get_network().connections[ours.get_id()][0].muxed_conn.secured_conn
        await raw_of(secured).write(garbage)
        with trio.fail_after(10):
            await conn.event_closed.wait()
        assert "noise message not authentic or incomplete; connection closed" in caplog.text
        await assert_serves(other, ours)
        assert await ping_ok(other, ours)
