"""The streaming client: open a job's session with its executor, send requests, check replies.

    async with open_session(host, executor_peer, job, checker, skew_ms=2000) as session:
        reply = await session.request([1, 2, 3])     # a checked Reply, or Rejected
    session.expected_output()                          # what the paid witness must say

The session announcement must be for the job and its assigned executor, signed by the
executor's account (`checker`: the account's key, e.g. from the node's key directory). Every
reply must be signed by the session key, for the job, over the request's input and the output
received, with times no further than `skew_ms` outside the client's own clock (time from not
before the request was sent, time to not after the answer arrived). A reply that fails a check
raises `Rejected` and stays out of the log; the session goes on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from libp2p.abc import IHost
from libp2p.peer.id import ID

from cairo_jobs.streaming import log_commitment
from p2p.messages import SignedStreamReply, SignedStreamSession, StreamSession, felts_digest
from p2p.signing import SignatureChecker, reply_is_signed, session_is_signed
from p2p.stream import Clock, SessionStream, StreamAnswer, unix_ms


class Rejected(Exception):
    """A session announcement or reply the client does not accept; the message says why."""


@dataclass(frozen=True)
class StreamJob:
    """What the client knows of its job: its hash, the assigned executor, the chain."""

    job_hash: int
    executor: int
    chain_id: int


@dataclass(frozen=True)
class Reply:
    """A checked reply: the request's input, the output and the executor's signed times."""

    input: tuple[int, ...]
    output: tuple[int, ...]
    signed: SignedStreamReply
    """The session key's signed statement of this reply (evidence if it lies)."""

    @property
    def time_from_ms(self) -> int:
        return self.signed.reply.time_from_ms

    @property
    def time_to_ms(self) -> int:
        return self.signed.reply.time_to_ms


class StreamClient:
    """An open session: `request` each input; `log` holds every accepted reply in order."""

    def __init__(self, stream: SessionStream, job: StreamJob, skew_ms: int,
                 request_timeout: float, clock: Clock) -> None:
        self._stream = stream
        self.job = job
        self.signed_session: SignedStreamSession = stream.signed
        self.session: StreamSession = stream.signed.session
        self.skew_ms = skew_ms
        self.request_timeout = request_timeout
        self.clock = clock
        self.log: list[Reply] = []

    async def request(self, felts: Sequence[int]) -> Reply:
        """Send one request; the checked reply (Rejected, StreamRefused or StreamFailure)."""
        request = tuple(felts)
        sent = self.clock()
        answer = await self._stream.request(request, self.request_timeout)
        reply = self._check(answer, request, sent, self.clock())
        self.log.append(reply)
        return reply

    def expected_output(self) -> list[int]:
        """The settle run's output for this client's log: what the paid witness must carry."""
        return log_commitment((reply.input, reply.output) for reply in self.log)

    def _check(self, answer: StreamAnswer, request: tuple[int, ...], sent_ms: int,
               received_ms: int) -> Reply:
        signed, statement = answer.reply, answer.reply.reply
        if statement.job_hash != self.session.job_hash:
            raise Rejected(f"the reply is for job {statement.job_hash:#x}, not this session's "
                           f"{self.session.job_hash:#x}")
        if not reply_is_signed(signed, self.job.chain_id, self.session):
            raise Rejected("the reply's signature is not the session key's: forged or altered")
        if statement.input_hash != felts_digest(request):
            raise Rejected("the reply answers another input than the request sent")
        if statement.output_hash != felts_digest(answer.output):
            raise Rejected("the output received is not the one the reply signs")
        low, high = sent_ms - self.skew_ms, received_ms + self.skew_ms
        if not low <= statement.time_from_ms <= statement.time_to_ms <= high:
            raise Rejected(
                f"the reply's times [{statement.time_from_ms}, {statement.time_to_ms}] ms are "
                f"outside [{low}, {high}] (sent/received on this clock, skew {self.skew_ms} ms):"
                " the executor's clock is off or the reply is replayed"
            )
        return Reply(request, answer.output, signed)


async def check_session(signed: SignedStreamSession, job: StreamJob,
                        checker: SignatureChecker, now_ms: int, skew_ms: int) -> None:
    """Rejected unless the announcement is the job's, by its executor, signed and not expired."""
    session = signed.session
    if session.job_hash != job.job_hash:
        raise Rejected(f"the session is for job {session.job_hash:#x}, not {job.job_hash:#x}")
    if session.executor != job.executor:
        raise Rejected(f"the session is announced by {session.executor:#x}, not by the "
                       f"assigned executor {job.executor:#x}")
    if not await session_is_signed(signed, job.chain_id, checker):
        raise Rejected("the session announcement is not signed by the executor's account")
    if session.expires_at * 1000 < now_ms - skew_ms:
        raise Rejected(f"the session expired at {session.expires_at}")


@asynccontextmanager
async def open_session(
    host: IHost, peer: ID, job: StreamJob, checker: SignatureChecker, *, skew_ms: int,
    request_timeout: float = 60.0, clock: Clock = unix_ms,
) -> AsyncIterator[StreamClient]:
    """Open the job's session with the executor at `peer`; closing the block ends it."""
    stream = await SessionStream.open(host, peer, job.job_hash)
    try:
        await check_session(stream.signed, job, checker, clock(), skew_ms)
        yield StreamClient(stream, job, skew_ms, request_timeout, clock)
    finally:
        await stream.close()
