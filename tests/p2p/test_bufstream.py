"""BufferedStream.read_prefixed over a real Yamux stream: messages cut from the read buffer
however the bytes arrive, with py-libp2p's limits and errors."""

from __future__ import annotations

import pytest
import trio
from libp2p.custom_types import TProtocol
from libp2p.io.exceptions import MessageTooLarge
from libp2p.network.stream.exceptions import StreamEOF
from libp2p.utils import encode_uvarint, encode_varint_prefixed
from libp2p.utils.varint import ParseError

from p2p.bufstream import BufferedStream
from tests.p2p.nodes import connect, running_hosts

PROTOCOL = TProtocol("/test/prefixed/1.0.0")
MESSAGES = [b"", b"a", b"b" * 127, b"c" * 128, b"d" * 70_000]  # 1-, 2- and 3-byte prefixes


async def read_what_is_sent(pieces: list[bytes], limit: int = 100_000) -> list[object]:
    """The messages (or the error) a reader gets when `pieces` are written one by one and
    the stream is closed."""
    results: list[object] = []
    done = trio.Event()

    async def reader(stream) -> None:
        buffered = BufferedStream(stream)
        try:
            while True:
                results.append(await buffered.read_prefixed(limit))
        except Exception as error:
            results.append(type(error))
        done.set()

    async with running_hosts(2) as (writer, listener):
        listener.set_stream_handler(PROTOCOL, reader)
        await connect(writer, listener)
        stream = await writer.new_stream(listener.get_id(), [PROTOCOL])
        with trio.fail_after(30):
            for piece in pieces:
                await stream.write(piece)
            await stream.close()
            await done.wait()
    return results


async def test_messages_in_one_write_and_split_across_many_writes_arrive_whole():
    wire = b"".join(encode_varint_prefixed(m) for m in MESSAGES)
    together = await read_what_is_sent([wire])
    trickled = await read_what_is_sent([wire[i : i + 5] for i in range(0, 300, 5)] + [wire[300:]])
    assert together == trickled == [*MESSAGES, StreamEOF]


@pytest.mark.parametrize(
    ("wire", "error"),
    [
        (encode_uvarint(100_001) + b"x" * 10, MessageTooLarge),  # refused before the body
        (b"\xff" * 11, ParseError),  # no 64-bit varint is this long
        (encode_uvarint(50) + b"x" * 10, StreamEOF),  # the stream ended mid-message
    ],
    ids=["too-large", "bad-prefix", "cut-short"],
)
async def test_bad_prefixes_and_short_messages_raise_py_libp2ps_errors(wire, error):
    good = encode_varint_prefixed(b"first")
    assert await read_what_is_sent([good, wire]) == [b"first", error]
