"""Yamux streams: concurrent large writes arrive intact (py-libp2p interleaves their frames);
receive credit goes back once half the window is read, not after every read; our frame path
and py-libp2p's stock Yamux understand each other both ways; bad frames end only the
connection that sent them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import multiaddr
import pytest
import trio
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519
from libp2p.custom_types import TProtocol
from libp2p.host.basic_host import BasicHost
from libp2p.network.stream.exceptions import StreamEOF, StreamReset
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.yamux.yamux import (
    DEFAULT_WINDOW_SIZE,
    PROTOCOL_ID,
    TYPE_DATA,
    TYPE_WINDOW_UPDATE,
    Yamux,
)
from libp2p.utils import encode_varint_prefixed
from libp2p.utils.varint import read_varint_prefixed_bytes_limited

from p2p import yamux_frames
from p2p.host import p2p_addr, peer_info
from p2p.noise_session import NoiseSession
from p2p.yamux import MAX_FRAME_PAYLOAD, SerialYamux
from p2p.yamux_frames import pack_header
from tests.p2p.nodes import connect, ping_ok, running_host, running_hosts

PROTOCOL = TProtocol("/test/bulk/1.0.0")
PAYLOAD = 200_000  # about three 64 KiB Yamux frames
WRITERS = 3
PER_WRITER = 4


async def test_concurrent_large_writes_on_one_stream_are_not_interleaved():
    received: list[bytes] = []
    all_read = trio.Event()

    async def reader(stream) -> None:
        while len(received) < WRITERS * PER_WRITER:
            received.append(await read_varint_prefixed_bytes_limited(stream, 2 * PAYLOAD))
        all_read.set()

    async with running_hosts(2) as (sender, receiver):
        receiver.set_stream_handler(PROTOCOL, reader)
        await connect(sender, receiver)
        stream = await sender.new_stream(receiver.get_id(), [PROTOCOL])

        async def writer(fill: int) -> None:
            for _ in range(PER_WRITER):
                await stream.write(encode_varint_prefixed(bytes([fill]) * PAYLOAD))

        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                for fill in range(WRITERS):
                    nursery.start_soon(writer, fill)
            await all_read.wait()

    assert sorted(m[0] for m in received) == sorted(list(range(WRITERS)) * PER_WRITER)
    assert all(len(m) == PAYLOAD and m == bytes([m[0]]) * PAYLOAD for m in received)


async def _count_window_updates(messages: int, size: int) -> tuple[list[bytes], int]:
    """Send `messages` of `size` bytes on one stream; what arrived and the receiver's updates."""
    received: list[bytes] = []
    updates = 0
    all_read = trio.Event()

    async def reader(stream) -> None:
        nonlocal updates
        muxed = stream.muxed_stream
        send_window_update = muxed.send_window_update

        async def counted(increment: int, skip_lock: bool = False) -> None:
            nonlocal updates
            updates += 1
            await send_window_update(increment, skip_lock)

        muxed.send_window_update = counted
        while len(received) < messages:
            received.append(await read_varint_prefixed_bytes_limited(stream, 2 * size))
        all_read.set()

    async with running_hosts(2) as (sender, receiver):
        receiver.set_stream_handler(PROTOCOL, reader)
        await connect(sender, receiver)
        stream = await sender.new_stream(receiver.get_id(), [PROTOCOL])
        with trio.fail_after(60):
            for n in range(messages):
                await stream.write(encode_varint_prefixed(bytes([n % 256]) * size))
            await all_read.wait()
    return received, updates


async def test_small_messages_cost_no_window_updates():
    received, updates = await _count_window_updates(messages=200, size=400)
    assert [m[0] for m in received] == [n % 256 for n in range(200)]
    assert updates == 0  # 80 KB read: below half the 256 KiB window


async def test_bulk_transfer_gets_credit_back_every_half_window():
    size = 64 * 1024
    received, updates = await _count_window_updates(messages=32, size=size)  # 2 MiB
    assert all(m == bytes([n]) * size for n, m in enumerate(received))
    half_windows = 32 * size // (DEFAULT_WINDOW_SIZE // 2)
    assert 1 <= updates <= half_windows  # fewer when the window auto-tunes upwards


async def test_a_write_cancelled_midway_leaves_the_stream_and_connection_intact():
    """A writer cancelled in the middle of a multi-frame payload (a timeout, a shutdown) must
    not leave half a message on the stream, nor half a Noise frame on the connection."""
    received: list[bytes] = []
    got_last = trio.Event()

    async def reader(stream) -> None:
        while True:
            message = await read_varint_prefixed_bytes_limited(stream, 8 * PAYLOAD)
            received.append(message)
            if message[:1] == b"\xff":
                got_last.set()

    async with running_hosts(2) as (sender, receiver):
        receiver.set_stream_handler(PROTOCOL, reader)
        await connect(sender, receiver)
        stream = await sender.new_stream(receiver.get_id(), [PROTOCOL])
        for attempt in range(20):
            with trio.move_on_after(0.0005 * attempt):
                await stream.write(encode_varint_prefixed(bytes([attempt]) * 4 * PAYLOAD))
        await stream.write(encode_varint_prefixed(b"\xff" * 1000))
        with trio.fail_after(30):
            await got_last.wait()
        assert await ping_ok(sender, receiver)  # the connection still carries other streams

    assert received[-1] == b"\xff" * 1000
    assert all(m == bytes([m[0]]) * len(m) and len(m) == 4 * PAYLOAD for m in received[:-1])


async def test_an_opened_window_lets_the_peer_send_a_large_value_in_one_go():
    """A reader that expects a large value opens its receive window for it (one standard
    WINDOW_UPDATE before its request): the writer may then send the whole 1 MiB without
    waiting for credit (py-libp2p grants 256 KiB; a writer out of credit waits up to 5 s per
    missing update), and the value arrives intact."""
    value = bytes(range(256)) * 4096
    credit: list[int] = []

    async def writer(stream) -> None:
        await stream.read(1)  # sent after the window update, so that has arrived
        credit.append(stream.muxed_stream.send_window)
        await stream.write(value)
        await stream.close()

    async with running_hosts(2) as (sender, receiver):
        sender.set_stream_handler(PROTOCOL, writer)
        await connect(receiver, sender)
        stream = await receiver.new_stream(sender.get_id(), [PROTOCOL])
        await stream.muxed_stream.open_window(len(value))
        await stream.write(b"?")
        with trio.fail_after(30):
            received = bytearray()
            while len(received) < len(value):
                received += await stream.read()
    assert credit == [len(value)] and received == value


# Interoperability with py-libp2p's stock Yamux (same frames on the wire), and bad frames.

SIZES = (1, 400, MAX_FRAME_PAYLOAD, 70_000, 600_000)  # 600 KB: more than the 256 KiB window


@asynccontextmanager
async def stock_host() -> AsyncIterator[BasicHost]:
    """A py-libp2p host with its stock Noise and Yamux, listening on 127.0.0.1."""
    key_pair = create_new_key_pair()
    host = new_host(
        key_pair=key_pair,
        sec_opt={NOISE_PROTOCOL_ID: NoiseTransport(key_pair, create_x25519().private_key)},
        muxer_opt={TProtocol(PROTOCOL_ID): Yamux},
    )
    async with host.run([multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]):
        yield host


async def echo(stream) -> None:
    """Send every length-prefixed message back until the peer closes."""
    try:
        while True:
            message = await read_varint_prefixed_bytes_limited(stream, 2 * max(SIZES))
            await stream.write(encode_varint_prefixed(message))
    except StreamEOF:
        await stream.close()


async def echoed(stream, sizes: tuple[int, ...]) -> list[bytes]:
    """Each message sent on `stream` and what came back."""
    replies = []
    for n, size in enumerate(sizes):
        message = bytes([n + 1]) * size
        await stream.write(encode_varint_prefixed(message))
        replies.append(await read_varint_prefixed_bytes_limited(stream, 2 * size))
    return replies


async def assert_serves(other, ours) -> None:
    """`ours` still serves a new peer: `other` connects, opens PROTOCOL and gets its echo."""
    await connect(other, ours)
    stream = await other.new_stream(ours.get_id(), [PROTOCOL])
    with trio.fail_after(30):
        assert await echoed(stream, (400,)) == [b"\x01" * 400]


@pytest.mark.parametrize("ours_dials", [True, False], ids=["ours-dials", "stock-dials"])
@pytest.mark.parametrize("ours_opens", [True, False], ids=["ours-opens", "stock-opens"])
async def test_ours_and_stock_yamux_exchange_small_large_and_window_sized_messages(
    ours_dials: bool, ours_opens: bool
):
    async with running_host() as ours, stock_host() as stock:
        dialer, listener = (ours, stock) if ours_dials else (stock, ours)
        opener, handler = (ours, stock) if ours_opens else (stock, ours)
        handler.set_stream_handler(PROTOCOL, echo)
        with trio.fail_after(60):
            await dialer.connect(peer_info(p2p_addr(listener)))
            stream = await opener.new_stream(handler.get_id(), [PROTOCOL])
            replies = await echoed(stream, SIZES)
            await stream.close()
        assert replies == [bytes([n + 1]) * size for n, size in enumerate(SIZES)]
        conn = ours.get_network().connections[stock.get_id()][0].muxed_conn
        assert isinstance(conn, SerialYamux) and isinstance(conn.secured_conn, NoiseSession)
        assert conn.secured_conn.inline_muxer is None  # it lists none: multistream chose
        assert await ping_ok(ours, stock) and await ping_ok(stock, ours)


@pytest.mark.parametrize("ours_resets", [True, False], ids=["ours-resets", "stock-resets"])
async def test_a_reset_stream_fails_its_reader_and_leaves_the_connection_working(
    ours_resets: bool
):
    async def reset_after_one(stream) -> None:
        await read_varint_prefixed_bytes_limited(stream, 1000)
        await stream.reset()

    async with running_host() as ours, stock_host() as stock:
        resetter, reader = (ours, stock) if ours_resets else (stock, ours)
        resetter.set_stream_handler(PROTOCOL, reset_after_one)
        await connect(ours, stock)
        stream = await reader.new_stream(resetter.get_id(), [PROTOCOL])
        await stream.write(encode_varint_prefixed(b"x" * 100))
        with pytest.raises(StreamReset), trio.fail_after(10):
            await stream.read()
        stream = await reader.new_stream(resetter.get_id(), [PROTOCOL])  # a new one works
        await stream.write(encode_varint_prefixed(b"y"))
        with pytest.raises(StreamReset), trio.fail_after(10):
            await stream.read()
        assert await ping_ok(ours, stock) and await ping_ok(stock, ours)


async def test_frames_for_unknown_streams_are_ignored():
    """Data and window updates for a stream that is gone (it ended meanwhile) change
    nothing: the connection carries on."""
    async with running_host() as ours, stock_host() as stock:
        ours.set_stream_handler(PROTOCOL, echo)
        await connect(stock, ours)
        raw = stock.get_network().connections[ours.get_id()][0].muxed_conn.secured_conn
        await raw.write(pack_header(TYPE_DATA, 0, 1001, 5) + b"hello")
        await raw.write(pack_header(TYPE_WINDOW_UPDATE, 0, 1003, 4096))
        stream = await stock.new_stream(ours.get_id(), [PROTOCOL])
        with trio.fail_after(30):
            assert await echoed(stream, (10, 70_000)) == [b"\x01" * 10, b"\x02" * 70_000]


GARBAGE = {
    "version": bytes([1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]),
    "type": bytes([0, 9, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]),
    "oversized-data": pack_header(TYPE_DATA, 0, 1, 17 * 1024 * 1024),
    "random": bytes(range(7, 107)),
}


@pytest.mark.parametrize("garbage", GARBAGE.values(), ids=GARBAGE.keys())
async def test_a_peer_sending_garbage_frames_loses_its_connection_and_the_node_carries_on(
    garbage: bytes, caplog
):
    async with running_host() as ours, stock_host() as stock, running_host() as other:
        ours.set_stream_handler(PROTOCOL, echo)
        await connect(stock, ours)
        conn = ours.get_network().connections[stock.get_id()][0].muxed_conn
        raw = stock.get_network().connections[ours.get_id()][0].muxed_conn.secured_conn
        await raw.write(garbage)
        with trio.fail_after(10):
            await conn.event_closed.wait()
        assert "yamux protocol error; connection closed" in caplog.text
        await assert_serves(other, ours)


async def test_a_frame_left_unfinished_ends_only_its_connection(monkeypatch, caplog):
    """A peer that announces a data frame and stops sending it mid-way holds nothing up for
    longer than PARTIAL_FRAME_TIMEOUT: its connection ends, the node serves others."""
    monkeypatch.setattr(yamux_frames, "PARTIAL_FRAME_TIMEOUT", 0.5)
    async with running_host() as ours, stock_host() as stock, running_host() as other:
        ours.set_stream_handler(PROTOCOL, echo)
        await connect(stock, ours)
        conn = ours.get_network().connections[stock.get_id()][0].muxed_conn
        raw = stock.get_network().connections[ours.get_id()][0].muxed_conn.secured_conn
        await raw.write(pack_header(TYPE_DATA, 0, 1, 1000) + b"only part of it")
        with trio.fail_after(10):
            await conn.event_closed.wait()
        assert "yamux frame incomplete for too long" in caplog.text
        await assert_serves(other, ours)
