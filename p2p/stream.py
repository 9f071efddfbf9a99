"""Streaming sessions: a client's requests straight to a job's executor over STREAM_PROTOCOL.

Every frame is a uvarint length (at most `params.MAX_STREAM_FRAME`) and one canonical wire
message. A session is one stream:

    client   StreamOpen(job_hash)     executor  SignedStreamSession | StreamRefusal
    client   StreamRequest(felts)     executor  StreamAnswer(reply, output) | StreamRefusal
    ...      (a refused request leaves the session open)
    client   closes the stream: the session ends (as it does when idle or expired)

A settle query (validators) is a stream of its own: SettleQuery(job_hash) -> JobBody (the
session's settle body, at most `limits.MAX_BODY_BYTES`) | StreamRefusal.

A frame that is not the message expected there (garbage, oversized, wrong type) is answered
with a StreamRefusal that names the problem, and that stream is closed; the node and its other
streams carry on. What the messages mean (signatures, the settle run) is the roles' business:
this module moves them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import trio
from libp2p.abc import IHost
from libp2p.custom_types import TProtocol
from libp2p.network.stream.exceptions import StreamError as NetStreamError
from libp2p.network.stream.net_stream import INetStream
from libp2p.peer.id import ID
from libp2p.utils import encode_varint_prefixed
from libp2p.utils.varint import read_varint_prefixed_bytes_limited

from p2p import limits, params
from p2p.bufstream import BufferedStream
from p2p.codec import CodecError, FeltList, Nested, Text, WireMessage, felt, wire
from p2p.messages import JobBody, SignedStreamReply, SignedStreamSession

log = logging.getLogger(__name__)

PROTOCOL = TProtocol(params.STREAM_PROTOCOL)

MAX_REASON_CHARS = 300

M = TypeVar("M", bound=WireMessage)

Clock = Callable[[], int]
"""Unix time in milliseconds, the unit of a stream reply's times."""


def unix_ms() -> int:
    """This machine's Unix time in milliseconds."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class StreamOpen(WireMessage):
    """A client asks for the streaming session of a job."""

    TYPE = "stream_open"
    MAX_BYTES = limits.MAX_SMALL_MESSAGE_BYTES

    job_hash: int = wire(felt())


@dataclass(frozen=True)
class StreamRequest(WireMessage):
    """One request: the input felts of one run of the session's program."""

    TYPE = "stream_request"
    MAX_BYTES = params.MAX_STREAM_FRAME

    input: tuple[int, ...] = wire(FeltList(params.MAX_STREAM_REQUEST_FELTS))


@dataclass(frozen=True)
class StreamAnswer(WireMessage):
    """The reply to a request: its output felts and the session key's signed statement."""

    TYPE = "stream_answer"
    MAX_BYTES = params.MAX_STREAM_FRAME

    reply: SignedStreamReply = wire(Nested(SignedStreamReply))
    output: tuple[int, ...] = wire(FeltList(limits.MAX_OUTPUT_FELTS))


@dataclass(frozen=True)
class StreamRefusal(WireMessage):
    """Why the executor will not answer a frame (the reason says what to do)."""

    TYPE = "stream_refusal"
    MAX_BYTES = limits.MAX_SMALL_MESSAGE_BYTES

    reason: str = wire(Text(MAX_REASON_CHARS))


@dataclass(frozen=True)
class SettleQuery(WireMessage):
    """A validator asks for the settle body of a finished session."""

    TYPE = "stream_settle_query"
    MAX_BYTES = limits.MAX_SMALL_MESSAGE_BYTES

    job_hash: int = wire(felt())


class StreamFailure(Exception):
    """The stream broke, timed out or carried a frame that is not the expected message."""


class StreamRefused(Exception):
    """The executor refused a frame; `reason` is its StreamRefusal's text."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def refusal(reason: str) -> StreamRefusal:
    """A StreamRefusal with `reason` cut to printable ASCII of the allowed length."""
    text = "".join(c if c.isascii() and c.isprintable() else "?" for c in reason)
    return StreamRefusal(text[:MAX_REASON_CHARS])


# Frames


async def write_frame(stream: INetStream | BufferedStream, message: WireMessage) -> None:
    await stream.write(encode_varint_prefixed(message.encode()))


async def read_frame(
    stream: BufferedStream, expected: Sequence[type[WireMessage]], max_bytes: int
) -> WireMessage:
    """The next frame, decoded as one of `expected`.

    Raises trio's EndOfChannel when the peer closed the stream, StreamFailure for anything
    else that is not such a message.
    """
    try:
        data = await read_varint_prefixed_bytes_limited(stream, max_bytes)
    except NetStreamError as error:
        raise trio.EndOfChannel from error
    except Exception as error:  # a bad length prefix or a frame above the limit
        raise StreamFailure(f"bad frame: {error}") from error
    return decode_frame(data, expected)


def decode_frame(data: bytes, expected: Sequence[type[WireMessage]]) -> WireMessage:
    """`data` as the first of `expected` it decodes to; StreamFailure naming the problem."""
    errors = []
    for message_type in expected:
        try:
            return message_type.decode(data)
        except CodecError as error:
            errors.append(str(error))
    names = " or ".join(t.TYPE for t in expected)
    raise StreamFailure(f"expected {names}: {errors[0]}")


def expect(message: WireMessage, wanted: type[M]) -> M:
    """`message` if it is a `wanted`; StreamRefused if it is the executor's refusal."""
    if isinstance(message, StreamRefusal):
        raise StreamRefused(message.reason)
    assert isinstance(message, wanted)
    return message


# Executor side


class OpenSession(Protocol):
    """A session a client has opened, as the stream loop sees it."""

    signed: SignedStreamSession
    idle_timeout: float
    """Seconds without a request after which the session ends."""
    ends_at: float
    """trio clock time at which the session ends whatever happens."""

    async def answer(self, request: Sequence[int]) -> StreamAnswer:
        """The signed answer; StreamRefused (the session stays open) when there is none."""

    def close(self) -> None:
        """The client's stream is over: no more requests."""


class SessionHost(Protocol):
    """What the protocol asks of the executor."""

    async def open(self, job_hash: int, peer: ID) -> OpenSession:
        """The job's session for `peer`; StreamRefused when there is none for it."""

    async def settle_body(self, job_hash: int) -> JobBody:
        """The settle body of a finished session; StreamRefused when there is none."""


def serve(host: IHost, sessions: SessionHost) -> None:
    """Answer streaming sessions and settle queries on `host` from `sessions`."""

    async def handler(net_stream: INetStream) -> None:
        peer = net_stream.muxed_conn.peer_id
        stream = BufferedStream(net_stream)
        try:
            await _serve_stream(stream, peer, sessions)
        except StreamFailure as failure:
            log.info("bad stream frame", extra={"peer": str(peer), "error": str(failure)})
            await _refuse_and_close(stream, str(failure))
            return
        except (trio.EndOfChannel, NetStreamError, trio.TooSlowError) as error:
            log.info("stream ended", extra={"peer": str(peer), "reason": repr(error)})
        await _close_quietly(net_stream)

    host.set_stream_handler(PROTOCOL, handler)


async def _serve_stream(stream: BufferedStream, peer: ID, sessions: SessionHost) -> None:
    with trio.fail_after(params.STREAM_OPEN_TIMEOUT):
        first = await read_frame(stream, (StreamOpen, SettleQuery), limits.MAX_SMALL_MESSAGE_BYTES)
    try:
        if isinstance(first, SettleQuery):
            await write_frame(stream, await sessions.settle_body(first.job_hash))
            return
        assert isinstance(first, StreamOpen)
        session = await sessions.open(first.job_hash, peer)
    except StreamRefused as refused:
        await write_frame(stream, refusal(refused.reason))
        return
    try:
        await write_frame(stream, session.signed)
        with trio.move_on_at(session.ends_at):
            await _answer_requests(stream, session)
    finally:
        session.close()


async def _answer_requests(stream: BufferedStream, session: OpenSession) -> None:
    while True:
        request = None
        with trio.move_on_after(session.idle_timeout):
            request = await read_frame(stream, (StreamRequest,), params.MAX_STREAM_FRAME)
        if not isinstance(request, StreamRequest):  # idle
            return
        try:
            answer: WireMessage = await session.answer(request.input)
        except StreamRefused as refused:
            answer = refusal(refused.reason)
        await write_frame(stream, answer)


async def _refuse_and_close(stream: BufferedStream, reason: str) -> None:
    with trio.move_on_after(params.STREAM_OPEN_TIMEOUT):
        try:
            await write_frame(stream, refusal(reason))
        except Exception as error:  # the peer may be gone already
            log.debug("refusal not sent", extra={"error": repr(error)})
    await _close_quietly(stream.stream)


async def _close_quietly(stream: INetStream) -> None:
    try:
        await stream.close()
    except Exception as error:  # the connection may be gone
        log.debug("stream close failed", extra={"error": repr(error)})


# Client side


class SessionStream:
    """The client's end of one session stream: `open`, then `request` for each request."""

    def __init__(self, stream: BufferedStream, signed: SignedStreamSession) -> None:
        self._stream = stream
        self.signed = signed
        """The executor's announcement of the session (not checked here)."""

    @classmethod
    async def open(cls, host: IHost, peer: ID, job_hash: int) -> SessionStream:
        """Ask `peer` for the session of `job_hash`; StreamRefused or StreamFailure if none."""
        try:
            with trio.fail_after(params.STREAM_OPEN_TIMEOUT + params.STREAM_SESSION_WAIT):
                stream = await host.new_stream(peer, [PROTOCOL])
                buffered = BufferedStream(stream)
                await write_frame(stream, StreamOpen(job_hash))
                frame = await read_frame(buffered, (SignedStreamSession, StreamRefusal),
                                         limits.MAX_SMALL_MESSAGE_BYTES)
        except (StreamFailure, StreamRefused):
            raise
        except Exception as error:
            raise StreamFailure(f"opening the session with {peer} failed: {error!r}") from error
        return cls(buffered, expect(frame, SignedStreamSession))

    async def request(self, felts: Sequence[int], timeout: float) -> StreamAnswer:
        """Send one request and return its answer (unchecked); StreamRefused or StreamFailure."""
        try:
            with trio.fail_after(timeout):
                await write_frame(self._stream, StreamRequest(tuple(felts)))
                frame = await read_frame(self._stream, (StreamAnswer, StreamRefusal),
                                         params.MAX_STREAM_FRAME)
        except (StreamFailure, CodecError):
            raise
        except Exception as error:
            raise StreamFailure(f"the request failed: {error!r}") from error
        return expect(frame, StreamAnswer)

    async def close(self) -> None:
        """End the session."""
        await _close_quietly(self._stream.stream)


async def fetch_settle_body(host: IHost, peer: ID, job_hash: int) -> JobBody:
    """The settle body of `job_hash`'s session from its executor `peer`."""
    try:
        with trio.fail_after(params.FETCH_TIMEOUT):
            stream = await host.new_stream(peer, [PROTOCOL])
            try:
                await write_frame(stream, SettleQuery(job_hash))
                frame = await read_frame(BufferedStream(stream), (JobBody, StreamRefusal),
                                         limits.MAX_BODY_BYTES)
            finally:
                await _close_quietly(stream)
    except (StreamFailure, StreamRefused):
        raise
    except Exception as error:
        raise StreamFailure(f"asking {peer} for the settle body failed: {error!r}") from error
    return expect(frame, JobBody)
