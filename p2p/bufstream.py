"""A read-buffering view of a libp2p stream.

py-libp2p's varint reader asks the stream for one byte at a time, and every Yamux read takes
two locks and may send a window update; a pubsub stream then reads a few dozen messages per
second under load. `BufferedStream` takes whatever the muxer has buffered in one read and
serves small reads from memory. Everything except `read` is delegated to the wrapped stream.

py-libp2p's Yamux raises StreamEOF for a read at the end of a stream the peer closed, where
its message readers expect an empty read; `eof_is_empty=True` gives them the empty read.
"""

from __future__ import annotations

from typing import Any

from libp2p.network.stream.exceptions import StreamEOF
from libp2p.network.stream.net_stream import INetStream


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

    async def _read_more(self) -> bytes:
        try:
            return await self.stream.read()
        except StreamEOF:
            if self.eof_is_empty:
                return b""
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)
