"""Noise over a read-ahead TCP connection: one socket read for many Noise messages.

py-libp2p 0.8.1 reads each Noise message with two socket reads, its 2-byte length and then its
body, and each read takes the connection's read lock and passes through trio's scheduler twice
(the lock, then `receive_some`): ~0.2 ms of CPU for every gossip RPC received, duplicates
included. `ReadAheadNoise` hands the Noise handshake and session a `ReadAheadConnection`, which
reads whatever the socket holds (up to `READ_AHEAD` bytes) and serves the following reads from
it without touching the socket. The bytes on the wire are unchanged.
"""

from __future__ import annotations

from typing import Any

from libp2p.abc import IRawConnection, ISecureConn
from libp2p.peer.id import ID
from libp2p.security.noise.transport import Transport as NoiseTransport

# Bytes asked of the socket at once: a Noise message is at most 64 KiB, and a larger request
# would make every read allocate (and map) a buffer above glibc's mmap threshold.
READ_AHEAD = 64 * 1024


class ReadAheadConnection:
    """A raw connection whose reads are served from one buffered socket read.

    Everything but `read` is the wrapped connection's.
    """

    def __init__(self, conn: IRawConnection) -> None:
        self._conn = conn
        self._buffer = b""
        self._offset = 0

    async def read(self, n: int | None = None) -> bytes:
        """Up to `n` bytes (all that is buffered for None); b"" once the peer closed."""
        if self._offset >= len(self._buffer):
            chunk = await self._conn.read(READ_AHEAD)
            if not chunk:
                return b""
            self._buffer, self._offset = chunk, 0
        start = self._offset
        end = len(self._buffer) if n is None else min(len(self._buffer), start + n)
        self._offset = end
        if start == 0 and end == len(self._buffer):
            return self._buffer
        return self._buffer[start:end]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


class ReadAheadNoise(NoiseTransport):
    """py-libp2p's Noise transport (same protocol, same bytes) over a ReadAheadConnection."""

    async def secure_inbound(self, conn: IRawConnection) -> ISecureConn:
        """Noise handshake as the responder over a read-ahead connection."""
        return await super().secure_inbound(ReadAheadConnection(conn))  # type: ignore[arg-type]

    async def secure_outbound(self, conn: IRawConnection, peer_id: ID) -> ISecureConn:
        """Noise handshake as the initiator over a read-ahead connection."""
        return await super().secure_outbound(
            ReadAheadConnection(conn),  # type: ignore[arg-type]
            peer_id,
        )
