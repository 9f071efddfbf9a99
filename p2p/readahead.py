"""Noise over a read-ahead TCP connection: one socket read for many Noise messages.

py-libp2p 0.8.1 reads each Noise message with two socket reads, its 2-byte length and then its
body, and each read takes the connection's read lock and passes through trio's scheduler twice
(the lock, then `receive_some`). `ReadAheadNoise` runs py-libp2p's Noise handshake over a
`ReadAheadConnection`, which reads whatever the socket holds (up to `READ_AHEAD` bytes) and
serves the following reads from it without touching the socket, then hands the finished session
to p2p.noise_session.NoiseSession (with the bytes read ahead), which reads and writes whole
buffers of transport messages. The bytes on the wire are unchanged, but for the muxers it
lists in its handshake payloads (p2p.inline_muxer): the secured connection's `inline_muxer`
is the muxer both sides agreed on there, or None if multistream-select is to choose it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from libp2p.abc import IRawConnection, ISecureConn
from libp2p.peer.id import ID
from libp2p.security.noise.patterns import IPattern
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.security.secure_session import SecureSession

from p2p import inline_muxer
from p2p.noise_session import NoiseSession, tcp_socket
from p2p.traffic import Traffic

logger = logging.getLogger(__name__)

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

    def unread(self) -> bytes:
        """The bytes read from the socket and not yet handed out (they are handed out now)."""
        rest = self._buffer[self._offset :]
        self._buffer, self._offset = b"", 0
        return rest

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


class ReadAheadNoise(NoiseTransport):
    """py-libp2p's Noise handshake over a ReadAheadConnection, listing `muxers` (preferred
    first; none: the muxer is left to multistream-select), whose session then runs as a
    NoiseSession counting its bytes in `traffic`."""

    def __init__(
        self,
        *args: Any,
        traffic: Traffic | None = None,
        muxers: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.traffic = traffic if traffic is not None else Traffic()
        self.muxers = tuple(muxers)
        inline_muxer.install()

    def get_pattern(self) -> IPattern:
        """The XX handshake, with our muxers in our payloads if we list any."""
        if not self.muxers:
            return super().get_pattern()
        return inline_muxer.MuxerListingXX(
            self.local_peer, self.libp2p_privkey, self.noise_privkey, muxers=self.muxers
        )

    async def secure_inbound(self, conn: IRawConnection) -> ISecureConn:
        """Noise handshake as the responder over a read-ahead connection."""
        ahead = ReadAheadConnection(conn)
        with inline_muxer.peer_muxers() as theirs:
            session = await super().secure_inbound(ahead)  # type: ignore[arg-type]
        return await self._finish(session, conn, ahead, theirs, self.muxers)

    async def secure_outbound(self, conn: IRawConnection, peer_id: ID) -> ISecureConn:
        """Noise handshake as the initiator over a read-ahead connection."""
        ahead = ReadAheadConnection(conn)
        with inline_muxer.peer_muxers() as theirs:
            session = await super().secure_outbound(ahead, peer_id)  # type: ignore[arg-type]
        return await self._finish(session, conn, ahead, self.muxers, theirs)

    async def _finish(
        self,
        session: ISecureConn,
        conn: IRawConnection,
        ahead: ReadAheadConnection,
        initiator_muxers: Sequence[str],
        responder_muxers: Sequence[str],
    ) -> ISecureConn:
        try:
            muxer = inline_muxer.choose(initiator_muxers, responder_muxers)
        except inline_muxer.NoCommonMuxer as exc:
            logger.warning(
                "connection refused: no stream muxer in common",
                extra={"peer": str(session.get_remote_peer()), "error": str(exc)},
            )
            await session.close()
            raise
        secured = _lean(session, conn, ahead, self.traffic)
        secured.inline_muxer = muxer  # type: ignore[attr-defined]
        return secured


def _lean(
    session: ISecureConn, conn: IRawConnection, ahead: ReadAheadConnection, traffic: Traffic
) -> ISecureConn:
    """`session` as a NoiseSession if it runs over TCP, else as it is."""
    socket = tcp_socket(conn)
    if socket is None or not isinstance(session, SecureSession):
        return session
    return NoiseSession.adopt(session, socket, ahead.unread(), traffic)
