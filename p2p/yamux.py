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

A fifth: the per-frame path itself. Per gossiped header a node received (~2.8 copies in,
~2.7 out at 16 nodes), reading frames cost ~0.9 ms of CPU (two exact reads, two locks, a cancel
scope, debug lines formatted with logging off per frame) and writing them ~1.0 ms (four locks
and the frame header parsed again for a debug line). Frames are read by
p2p.yamux_frames.FrameReader; a write that fits the send window, and a read of buffered bytes,
take no lock another task holds (see SerialYamuxStream). Same frames on the wire:
tests/p2p/test_yamux.py runs ours against py-libp2p's stock Yamux both ways.

A sixth: py-libp2p writes a payload frame by frame, each frame its own pass through the locks
and one Noise write and socket send (a 1 MiB value: 16 of each). A payload that fits the send
window goes down as its frames in buffers of WRITE_BATCH bytes: one Noise write and socket
send per four frames.

Streams the peer opens are built as `SerialYamuxStream`; those we open are built inside
py-libp2p's `Yamux.open_stream` and adopted by switching the object's class.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import trio
from libp2p.abc import IMuxedConn, ISecureConn
from libp2p.custom_types import TProtocol
from libp2p.network.swarm import Swarm
from libp2p.peer.id import ID
from libp2p.stream_muxer.exceptions import MuxedStreamError
from libp2p.stream_muxer.muxer_multistream import MuxerMultistream
from libp2p.stream_muxer.yamux.yamux import (
    HEADER_SIZE,
    MAX_MESSAGE_SIZE,
    MAX_WINDOW_SIZE,
    PROTOCOL_ID,
    TYPE_DATA,
    Yamux,
    YamuxStream,
)

from p2p import params
from p2p.locks import acquire
from p2p.yamux_frames import FrameReader, pack_header

# The largest payload sent as one frame (py-libp2p's and go-yamux's frame size).
MAX_FRAME_PAYLOAD = MAX_MESSAGE_SIZE - HEADER_SIZE
# Bytes of a payload's frames per connection write: few writes, yet the first bytes leave
# (and the reader starts) before a large value is all sealed.
WRITE_BATCH = 4 * MAX_FRAME_PAYLOAD

__all__ = ["PROTOCOL_ID", "MuxerSelector", "SerialYamux", "SerialYamuxStream", "install"]


class SerialYamuxStream(YamuxStream):
    """A YamuxStream with whole-payload writes and window updates at half the window.

    A payload that fits one frame and the send window, and a read of buffered bytes, take no
    lock that another task holds and pass through trio's scheduler only where the socket does
    (py-libp2p takes four locks per frame written and two per read, each a task switch).
    """

    _payload_lock: trio.Lock

    def __init__(self, stream_id: int, conn: Yamux, is_initiator: bool) -> None:
        super().__init__(stream_id, conn, is_initiator)
        self._payload_lock = trio.Lock()

    async def write(self, data: bytes) -> None:
        """Write `data` as consecutive frames; concurrent writers wait their turn.

        Once started, a payload is written whole, even if the caller is cancelled meanwhile
        (the cancellation takes effect after). If it takes longer than
        params.STREAM_WRITE_TIMEOUT, MuxedStreamError: the connection is closed if the payload
        was one connection write (at most WRITE_BATCH bytes), else the stream is reset.
        """
        await acquire(self._payload_lock)
        try:
            fits_window = self._fits_window(len(data))
            if fits_window:
                self.send_window -= len(data)
            if fits_window and len(data) <= WRITE_BATCH:
                await self.conn._write_frame(self._data_frames(memoryview(data)))
            elif not await _write_whole(
                self._write_batches if fits_window else super().write, data
            ):
                await self.reset()
                raise MuxedStreamError("stream write timed out part-way; the stream was reset")
        finally:
            self._payload_lock.release()

    def writes_at_once(self, size: int) -> bool:
        """Whether a write of `size` bytes now would be one frame sent without waiting: no
        other write under way on the stream or its connection, the send window open and the
        socket's send buffer not full."""
        conn = self.conn
        writable = getattr(conn.secured_conn, "writable", None)
        return (
            size <= MAX_FRAME_PAYLOAD
            and self._fits_window(size)
            and not self._payload_lock.locked()
            and not conn._write_lock.locked()
            and writable is not None
            and writable()
        )

    def _fits_window(self, size: int) -> bool:
        return 0 < size <= self.send_window and not self.send_closed and not self.closed

    async def _write_batches(self, data: bytes) -> None:
        """`data` (within the send window, already counted) as data frames, WRITE_BATCH bytes
        of them per connection write."""
        view = memoryview(data)
        for start in range(0, len(data), WRITE_BATCH):
            await self.conn._write_frame(self._data_frames(view[start : start + WRITE_BATCH]))

    def _data_frames(self, data: memoryview) -> bytes:
        """`data` as consecutive data frames of at most MAX_FRAME_PAYLOAD bytes, in one
        buffer (one write down the connection instead of one per frame)."""
        parts: list[bytes | memoryview] = []
        for start in range(0, len(data), MAX_FRAME_PAYLOAD):
            chunk = data[start : start + MAX_FRAME_PAYLOAD]
            parts += (pack_header(TYPE_DATA, 0, self.stream_id, len(chunk)), chunk)
        return b"".join(parts)

    async def read(self, n: int | None = -1) -> bytes:
        """Up to `n` bytes (all that is buffered for None or -1), waiting for some if none
        are; at the end of the stream or after a reset, py-libp2p's read (and errors)."""
        conn = self.conn
        while True:
            buffer = conn.stream_buffers.get(self.stream_id)
            if buffer is None or self.reset_received or conn.event_shutting_down.is_set():
                return await super().read(n)
            if buffer:
                take = len(buffer) if n is None or n < 0 else min(n, len(buffer))
                data = bytes(buffer) if take == len(buffer) else bytes(buffer[:take])
                del buffer[:take]
                await self._auto_tune_and_send_window_update(bytes_read=take)
                if self.closed and not buffer:
                    await conn._finalize_stream(self, fully_closed=True)
                return data
            if self.recv_closed or self.closed:
                return await super().read(n)
            await conn.stream_events[self.stream_id].wait()
            conn.stream_events[self.stream_id] = trio.Event()

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
        half_window = self.target_recv_window // 2
        if bytes_read > 0 and self._pending_recv_release + bytes_read < half_window:
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
    """Yamux connection whose streams are SerialYamuxStreams, whose frames are read by
    p2p.yamux_frames.FrameReader, and whose frame writes are never cut short by a
    cancellation."""

    async def handle_incoming(self) -> None:
        """Read and apply the peer's frames until the connection ends."""
        await FrameReader(self).run()

    def new_inbound_stream(self, stream_id: int) -> SerialYamuxStream:
        """Register the stream the peer opened with id `stream_id`."""
        stream = SerialYamuxStream(stream_id, self, False)
        self.streams[stream_id] = stream
        self.stream_buffers[stream_id] = bytearray()
        self.stream_events[stream_id] = trio.Event()
        return stream

    async def _write_frame(self, data: bytes) -> None:
        if not await _write_whole(self._send_frame, data):
            await self.close()
            raise MuxedStreamError("connection write timed out part-way; the connection closed")

    async def _send_frame(self, data: bytes) -> None:
        await acquire(self._write_lock)
        try:
            await self.secured_conn.write(data)
        finally:
            self._write_lock.release()

    async def open_stream(self) -> SerialYamuxStream:
        """Open an outbound stream with whole-payload writes."""
        return _adopt(await super().open_stream())


class MuxerSelector(MuxerMultistream):
    """Muxer negotiation that builds the negotiated class (py-libp2p hard-codes `Yamux`)."""

    async def new_conn(self, conn: ISecureConn, peer_id: ID) -> IMuxedConn:
        """The muxer chosen in `conn`'s handshake (p2p.inline_muxer), else one negotiated
        over `conn`, wrapped in the class registered for it."""
        protocol = getattr(conn, "inline_muxer", None)
        if protocol in self.transports:
            muxer_class = self.transports[protocol]
        else:
            protocol, muxer_class = await self._selector.select(
                conn, conn.is_initiator, self.negotiate_timeout
            )
        return self._annotate_connection(muxer_class(conn, peer_id), conn, protocol)


def install(swarm: Swarm) -> None:
    """Make `swarm` offer only Yamux, as SerialYamux."""
    swarm.upgrader.muxer_multistream = MuxerSelector({TProtocol(PROTOCOL_ID): SerialYamux})
