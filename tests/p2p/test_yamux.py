"""Concurrent large writes on one stream arrive intact (py-libp2p interleaves their frames)."""

from __future__ import annotations

import trio
from libp2p.custom_types import TProtocol
from libp2p.utils import encode_varint_prefixed
from libp2p.utils.varint import read_varint_prefixed_bytes_limited

from tests.p2p.nodes import connect, running_hosts

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
