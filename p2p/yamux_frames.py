"""Yamux's read loop: every frame a connection receives, parsed and applied to its streams.

py-libp2p 0.8.1's `Yamux.handle_incoming` reads each frame with two exact reads (header, then
body, the body under a fresh cancel scope), takes the connection's stream lock and the stream's
window lock (each a pass through trio's scheduler), and formats five or more debug log lines
whether or not debug logging is on: ~0.25 ms of CPU for each gossip RPC received. `FrameReader`
reads whatever the secure connection holds, parses every whole frame in it, and applies the
common frames (data and window updates on an open stream) without a lock or an await: trio
switches tasks only at an await, so the stream state these steps change is never seen half
changed. The protocol is standard Yamux (github.com/hashicorp/yamux/blob/master/spec.md); the
connection's bookkeeping (`streams`, `stream_buffers`, `stream_events`) is py-libp2p's, so its
stream and connection methods keep working on it.

A frame that breaks the protocol (a version other than 0, an unknown type, a data frame longer
than the largest window) ends the connection with GO_AWAY (protocol error) and a warning; the
node and its other connections carry on.
"""

from __future__ import annotations

import logging
import struct
from typing import TYPE_CHECKING

import trio
from libp2p.io.exceptions import IOException
from libp2p.network.connection.exceptions import RawConnError
from libp2p.stream_muxer.yamux.yamux import (
    FLAG_ACK,
    FLAG_FIN,
    FLAG_RST,
    FLAG_SYN,
    GO_AWAY_PROTOCOL_ERROR,
    MAX_WINDOW_SIZE,
    TYPE_DATA,
    TYPE_GO_AWAY,
    TYPE_PING,
    TYPE_WINDOW_UPDATE,
    YAMUX_HEADER_FORMAT,
)

if TYPE_CHECKING:
    from p2p.yamux import SerialYamux, SerialYamuxStream

logger = logging.getLogger(__name__)

HEADER = struct.Struct(YAMUX_HEADER_FORMAT)  # version, type, flags, stream id, length
# Seconds the rest of a frame may take to arrive once its first bytes have (py-libp2p's 60 s).
PARTIAL_FRAME_TIMEOUT = 60.0


class ProtocolError(Exception):
    """The peer sent a frame that is not Yamux."""


def pack_header(typ: int, flags: int, stream_id: int, length: int) -> bytes:
    """A Yamux frame header (version 0)."""
    return HEADER.pack(0, typ, flags, stream_id, length)


class FrameReader:
    """Reads one connection's frames until it ends, and applies each to its streams."""

    def __init__(self, conn: SerialYamux) -> None:
        self.conn = conn
        self._buffer = bytearray()

    async def run(self) -> None:
        """Read and apply frames until the peer hangs up, breaks the protocol or says
        GO_AWAY, or the connection is closed here; then clean the connection up."""
        conn = self.conn
        try:
            while not conn.event_shutting_down.is_set():
                if not await self._read_more():
                    break
                if not await self._apply_whole_frames():
                    break
        except ProtocolError as error:
            logger.warning(
                "yamux protocol error; connection closed",
                extra={"peer": str(conn.peer_id), "error": str(error)},
            )
            await self._go_away(GO_AWAY_PROTOCOL_ERROR)
        except trio.TooSlowError:
            logger.warning(
                "yamux frame incomplete for too long; connection closed",
                extra={"peer": str(conn.peer_id), "timeout_s": PARTIAL_FRAME_TIMEOUT},
            )
        except (IOException, RawConnError, OSError, trio.BrokenResourceError,
                trio.ClosedResourceError) as error:
            logger.debug(
                "yamux connection ended", extra={"peer": str(conn.peer_id), "error": repr(error)}
            )
        except Exception as error:  # whatever a peer sends, the node carries on
            logger.warning(
                "yamux read loop failed; connection closed",
                extra={"peer": str(conn.peer_id), "error": repr(error)},
            )
        await conn._cleanup_on_error()

    async def _read_more(self) -> bool:
        """Append what the connection holds to the buffer; False once it has closed.

        Waiting for the rest of a frame already begun is bounded by PARTIAL_FRAME_TIMEOUT.
        """
        if self._buffer:
            with trio.fail_after(PARTIAL_FRAME_TIMEOUT):
                chunk = await self.conn.secured_conn.read()
        else:
            chunk = await self.conn.secured_conn.read()
        if not chunk:
            return False
        self._buffer += chunk
        return True

    async def _apply_whole_frames(self) -> bool:
        """Apply every whole frame in the buffer, keep the rest; False after GO_AWAY."""
        buffer, pos = self._buffer, 0
        try:
            while len(buffer) - pos >= HEADER.size:
                version, typ, flags, stream_id, length = HEADER.unpack_from(buffer, pos)
                if version != 0 or typ > TYPE_GO_AWAY:
                    raise ProtocolError(f"bad frame header {bytes(buffer[pos:pos + 12]).hex()}")
                body_length = length if typ == TYPE_DATA else 0
                if body_length > MAX_WINDOW_SIZE:
                    raise ProtocolError(f"data frame of {length} bytes (window {MAX_WINDOW_SIZE})")
                end = pos + HEADER.size + body_length
                if end > len(buffer):
                    break
                body = buffer[pos + HEADER.size : end] if body_length else b""
                pos = end
                if typ == TYPE_GO_AWAY:
                    logger.debug(
                        "yamux GO_AWAY", extra={"peer": str(self.conn.peer_id), "code": length}
                    )
                    return False
                if typ == TYPE_PING:
                    await self._on_ping(flags, length)
                elif flags & FLAG_SYN:
                    await self._on_new_stream(typ, flags, stream_id, length, body)
                else:
                    await self._on_stream_frame(typ, flags, stream_id, length, body)
        finally:
            del buffer[:pos]
        return True

    async def _on_stream_frame(
        self, typ: int, flags: int, stream_id: int, length: int, body: bytes | bytearray
    ) -> None:
        """A data or window-update frame (maybe ACK, FIN, RST) on a stream we know; frames
        on streams we do not know (closed meanwhile) are ignored, as go-yamux does."""
        stream = self.conn.streams.get(stream_id)
        if stream is None:
            return
        self._apply(stream, typ, length, body)
        if flags & (FLAG_FIN | FLAG_RST):
            await self._end(stream, flags)

    def _apply(
        self, stream: SerialYamuxStream, typ: int, length: int, body: bytes | bytearray
    ) -> None:
        if typ == TYPE_WINDOW_UPDATE:
            stream.send_window += length
            return
        if not body:
            return
        self.conn.stream_buffers[stream.stream_id] += body
        stream.recv_window -= len(body)
        if stream.recv_window < 0:
            logger.warning(
                "yamux peer exceeded the receive window",
                extra={"peer": str(self.conn.peer_id), "stream": stream.stream_id,
                       "excess": -stream.recv_window},
            )
            stream.recv_window = 0
        self.conn.stream_events[stream.stream_id].set()

    async def _end(self, stream: SerialYamuxStream, flags: int) -> None:
        """The peer closed its side (FIN) or reset the stream (RST)."""
        if flags & FLAG_RST:
            stream.closed = stream.reset_received = True
        else:
            stream.recv_closed = True
            stream.closed = stream.send_closed
        event = self.conn.stream_events.get(stream.stream_id)
        if event is not None:
            event.set()
        if stream.closed:
            await self.conn._finalize_stream(stream, fully_closed=True)

    async def _on_new_stream(
        self, typ: int, flags: int, stream_id: int, length: int, body: bytes | bytearray
    ) -> None:
        """SYN: a stream the peer opens. Acknowledged and handed to `accept_stream`; a SYN
        for a stream id in use is answered with RST."""
        conn = self.conn
        if stream_id in conn.streams:
            await conn._write_frame(pack_header(TYPE_WINDOW_UPDATE, FLAG_RST, stream_id, 0))
            return
        stream = conn.new_inbound_stream(stream_id)
        self._apply(stream, typ, length, body)
        if flags & (FLAG_FIN | FLAG_RST):
            await self._end(stream, flags)
        if not flags & FLAG_RST:
            await conn._write_frame(pack_header(TYPE_WINDOW_UPDATE, FLAG_ACK, stream_id, 0))
        try:
            await conn.new_stream_send_channel.send(stream)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            await stream.reset()  # the connection is closing

    async def _on_ping(self, flags: int, value: int) -> None:
        conn = self.conn
        if flags & FLAG_SYN:
            await conn._write_frame(pack_header(TYPE_PING, FLAG_ACK, 0, value))
        elif flags & FLAG_ACK:
            rtt = trio.current_time() - conn._ping_sent_time
            conn._rtt = rtt if conn._rtt == 0.0 else (conn._rtt + rtt) / 2
            conn._ping_event.set()

    async def _go_away(self, code: int) -> None:
        try:
            await self.conn._write_frame(pack_header(TYPE_GO_AWAY, 0, 0, code))
        except Exception:  # the connection may be gone already
            logger.debug("GO_AWAY not sent", extra={"peer": str(self.conn.peer_id)})
