"""Yamux streams: concurrent large writes arrive intact (py-libp2p interleaves their frames);
receive credit goes back once half the window is read, not after every read."""

from __future__ import annotations

import trio
from libp2p.custom_types import TProtocol
from libp2p.stream_muxer.yamux.yamux import DEFAULT_WINDOW_SIZE
from libp2p.utils import encode_varint_prefixed
from libp2p.utils.varint import read_varint_prefixed_bytes_limited

from tests.p2p.nodes import connect, ping_ok, running_hosts

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
