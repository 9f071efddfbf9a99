"""A read-buffering view of a libp2p stream.

py-libp2p's varint reader asks the stream for one byte at a time, and every Yamux read takes
two locks and may send a window update; a pubsub stream then reads a few dozen messages per
second under load. `BufferedStream` takes whatever the muxer has buffered in one read and
serves small reads from memory. Everything except `read` is delegated to the wrapped stream.

`read_prefixed` reads a varint-length-prefixed message (a pubsub RPC) straight from the buffer:
py-libp2p's `read_varint_prefixed_bytes_limited` makes one read call per prefix byte and one or
more for the body, each a coroutine and a copy. Same limits and errors.

py-libp2p's Yamux raises StreamEOF for a read at the end of a stream the peer closed, where
its message readers expect an empty read; `eof_is_empty=True` gives them the empty read.
"""

from __future__ import annotations

from typing import Any

from libp2p.io.exceptions import IncompleteReadError, MessageTooLarge
from libp2p.network.stream.exceptions import StreamEOF
from libp2p.network.stream.net_stream import INetStream
from libp2p.utils.varint import ParseError

MAX_PREFIX = 10  # bytes of a 64-bit varint


class BufferedStream:
    """Wraps an INetStream; `read(n)` returns at most n bytes, served from a local buffer.

    With `eof_is_empty`, a read at the end of the stream returns b"" instead of raising
    StreamEOF.
    """

    def __init__(self, stream: INetStream, eof_is_empty: bool = False) -> None:
        self.stream = stream
        self.eof_is_empty = eof_is_empty
        self._buffer = bytearray()

    async def read(self, n: int | None = None) -> bytes:
        """Read up to `n` bytes (all buffered bytes if n is None or negative)."""
        if not self._buffer:
            self._buffer += await self._read_more()
        if n is None or n < 0 or n >= len(self._buffer):
            data = bytes(self._buffer)
            self._buffer.clear()
            return data
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    async def read_prefixed(self, max_length: int) -> bytes:
        """One varint-length-prefixed message of at most `max_length` bytes.

        Raises MessageTooLarge for a longer one (before reading it), ParseError for a prefix
        longer than 10 bytes, IncompleteReadError if the stream ends mid-message.
        """
        length, start = await self._length_prefix()
        if length > max_length:
            raise MessageTooLarge(f"Message length {length} exceeds maximum allowed {max_length}")
        end = start + length
        while len(self._buffer) < end:
            await self._fill(f"Incomplete message: expected {length} bytes")
        with memoryview(self._buffer) as buffered:
            message = bytes(buffered[start:end])  # one copy (a bytearray slice is one more)
        del self._buffer[:end]
        return message

    async def _length_prefix(self) -> tuple[int, int]:
        """The varint at the start of the buffer and its size in bytes, read as needed."""
        while True:
            value = 0
            for index, byte in enumerate(self._buffer):
                if index == MAX_PREFIX:
                    break
                value |= (byte & 0x7F) << (7 * index)
                if not byte & 0x80:
                    return value, index + 1
            if len(self._buffer) >= MAX_PREFIX:
                raise ParseError("varint length prefix longer than 10 bytes")
            await self._fill("Stream ended while reading varint length prefix")

    async def _fill(self, what: str) -> None:
        more = await self._read_more()
        if not more:
            raise IncompleteReadError(what)
        self._buffer += more

    async def _read_more(self) -> bytes:
        try:
            return await self.stream.read()
        except StreamEOF:
            if self.eof_is_empty:
                return b""
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)
