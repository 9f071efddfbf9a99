"""Yamux with whole-message writes: one write() on a stream is never interleaved with another.

py-libp2p 0.8.1 defect worked around here: `YamuxStream.write` splits a payload into 64 KiB
frames and takes the stream's write lock once per frame, not once per payload. When two tasks
write to the same stream (GossipSub forwards and publishes from several tasks onto one stream
per peer), the frames of two messages interleave and the receiver reads garbage: every gossip
message above ~64 KiB can arrive corrupted. `SerialYamux` makes each stream hold one lock for
the whole payload. The muxer protocol id and wire format are unchanged (plain /yamux/1.0.0).

A second defect: py-libp2p's `MuxerMultistream.new_conn` ignores the muxer class it is given
for /yamux/1.0.0 and always builds its own `Yamux`. `MuxerSelector` builds the class that was
negotiated; `install(swarm)` puts it into a swarm's upgrader.

A third: py-libp2p's reader gives the sender its credit back after every read ("release on
read"), so each small message read costs a WINDOW_UPDATE frame (one Noise encryption and one
socket write): about ten per gossiped header per hop. `SerialYamuxStream` releases credit as
go-yamux does, once half the receive window has been consumed.

A fourth: a write cancelled part-way (a caller's timeout, a task group shutting down) leaves
half a message on the stream, which the reader then parses as garbage, or half an encrypted
frame on the connection, which breaks every stream on it. A payload write and a frame write
are therefore shielded from outside cancellation and bounded by their own timeout
(params.STREAM_WRITE_TIMEOUT); a stream whose write still did not finish is reset, a
connection whose frame write did not finish is closed: both fail cleanly, never silently.

The fix adopts each stream py-libp2p creates (its constructor is called inside long methods of
`Yamux` that we do not copy) by switching the object's class to `SerialYamuxStream`, which only
adds the lock; tests/p2p/test_yamux.py keeps a test that fails on the unfixed class.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import trio
from libp2p.abc import IMuxedConn, IMuxedStream, ISecureConn
from libp2p.custom_types import TProtocol
from libp2p.network.swarm import Swarm
from libp2p.peer.id import ID
from libp2p.stream_muxer.exceptions import MuxedStreamError
from libp2p.stream_muxer.muxer_multistream import MuxerMultistream
from libp2p.stream_muxer.yamux.yamux import MAX_WINDOW_SIZE, PROTOCOL_ID, Yamux, YamuxStream

from p2p import params

__all__ = ["PROTOCOL_ID", "MuxerSelector", "SerialYamux", "SerialYamuxStream", "install"]


class SerialYamuxStream(YamuxStream):
    """A YamuxStream with whole-payload writes and window updates at half the window."""

    _payload_lock: trio.Lock

    async def write(self, data: bytes) -> None:
        """Write `data` as consecutive frames; concurrent writers wait their turn.

        Once started, a payload is written whole, even if the caller is cancelled meanwhile
        (the cancellation takes effect after); if it takes longer than
        params.STREAM_WRITE_TIMEOUT the stream is reset and MuxedStreamError raised.
        """
        async with self._payload_lock:
            if not await _write_whole(super().write, data):
                await self.reset()
                raise MuxedStreamError("stream write timed out part-way; the stream was reset")

    async def open_window(self, size: int) -> None:
        """Let the peer send up to `size` bytes (at most MAX_WINDOW_SIZE) before it has to wait
        for a window update: one standard WINDOW_UPDATE frame, for a reader expecting a large
        value (py-libp2p grants 256 KiB and grows it while the value streams in)."""
        async with self.window_lock:
            grow = min(size, MAX_WINDOW_SIZE) - self.recv_window
            if grow <= 0:
                return
            self.recv_window += grow
            self.target_recv_window = max(self.target_recv_window, self.recv_window)
        await self.send_window_update(grow, skip_lock=True)

    async def _auto_tune_and_send_window_update(self, *, bytes_read: int = 0) -> None:
        # Below half the window, only count the consumed bytes (no await: atomic under trio).
        if bytes_read > 0 and self._pending_recv_release + bytes_read < self._grow_threshold():
            self._pending_recv_release += bytes_read
            return
        await super()._auto_tune_and_send_window_update(bytes_read=bytes_read)


async def _write_whole(write: Callable[[bytes], Awaitable[None]], data: bytes) -> bool:
    """Run `write(data)` shielded from outside cancellation, for at most
    params.STREAM_WRITE_TIMEOUT; False if it did not finish in time."""
    with trio.CancelScope(shield=True) as scope:
        scope.deadline = trio.current_time() + params.STREAM_WRITE_TIMEOUT
        await write(data)
    return not scope.cancelled_caught


def _adopt(stream: YamuxStream) -> SerialYamuxStream:
    if not isinstance(stream, SerialYamuxStream):
        stream.__class__ = SerialYamuxStream
        stream._payload_lock = trio.Lock()
    return stream  # type: ignore[return-value]


class SerialYamux(Yamux):
    """Yamux connection whose streams (opened or accepted) are SerialYamuxStreams and whose
    frame writes are never cut short by a cancellation."""

    async def _write_frame(self, data: bytes) -> None:
        if not await _write_whole(super()._write_frame, data):
            await self.close()
            raise MuxedStreamError("connection write timed out part-way; the connection closed")

    async def open_stream(self) -> SerialYamuxStream:
        """Open an outbound stream with whole-payload writes."""
        return _adopt(await super().open_stream())

    async def accept_stream(self) -> IMuxedStream:
        """Accept an inbound stream with whole-payload writes."""
        return _adopt(await super().accept_stream())  # type: ignore[arg-type]


class MuxerSelector(MuxerMultistream):
    """Muxer negotiation that builds the negotiated class (py-libp2p hard-codes `Yamux`)."""

    async def new_conn(self, conn: ISecureConn, peer_id: ID) -> IMuxedConn:
        """Negotiate a muxer over `conn` and wrap it in the class registered for it."""
        protocol, muxer_class = await self._selector.select(
            conn, conn.is_initiator, self.negotiate_timeout
        )
        return self._annotate_connection(muxer_class(conn, peer_id), conn, protocol)


def install(swarm: Swarm) -> None:
    """Make `swarm` offer only Yamux, as SerialYamux."""
    swarm.upgrader.muxer_multistream = MuxerSelector({TProtocol(PROTOCOL_ID): SerialYamux})
