"""Streaming jobs on the executor: a session per streaming job, then the body that settles it.

An assigned job whose body carries `STREAM_INPUT` (cairo_jobs/streaming.py) is a session, not
one run: the executor's `_run` hands it to `StreamSessions.run_session`. A fresh Stark key pair
is made for the job and announced in a `StreamSession` signed by the executor's account; the
client (the peer that published the job, when known) opens the session over p2p/stream.py and
sends requests. Each request runs the program once in the Cairo worker pool, with the job's
step limit and the allowed hints; its reply is signed by the session key over (time from,
time to, sha256(input), sha256(output)) and appended to `<data_dir>/streams/<job>.jsonl`.

The session ends when the client closes its stream, after `stream.idle_timeout` seconds without
a request (or without an open), or after `stream.max_session` seconds (and SETTLE_RESERVE_S
before the job's deadline). Its settle body, the program with the whole request log as input
(`settle_input`), is written next to the log and returned: the executor runs it as it runs any
body, so the witness, the validator's fact and the single payment follow the organic path.
Validators ask the executor for that body with `settle_body_for` (the body in the DHT only
marks the job as streaming).

A session's requests may use half the job's `max_steps` together: the settle run repeats them
and adds the commitment, and it must fit in `max_steps` as well.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import trio
from libp2p.abc import IHost
from libp2p.peer.id import ID

from cairo_jobs.failures import RunFailure
from cairo_jobs.model import RunRequest
from cairo_jobs.pool import RunnerPool
from cairo_jobs.streaming import reply_of, request_input, settle_input
from node.config import StreamSection
from node.roles.services import Services
from p2p import limits, params
from p2p.codec import CodecError
from p2p.content import NotFound
from p2p.messages import (
    JobBody,
    JobHeader,
    SignedStreamSession,
    StreamReply,
    StreamSession,
    felts_digest,
)
from p2p.signing import sign_reply, sign_session
from p2p.stark import StarkKeyPair
from p2p.stream import (
    Clock,
    StreamAnswer,
    StreamFailure,
    StreamRefused,
    fetch_settle_body,
    serve,
    unix_ms,
)

log = logging.getLogger(__name__)

SETTLE_RESERVE_S = 60.0
"""A session ends this long before its job's deadline at the latest: time to settle and be paid."""

OPEN_POLL_S = 0.2
"""How often an open for a session that is not started yet looks again."""

@dataclass(frozen=True)
class Signer:
    """The executor's account and the chain its signatures are for."""

    account: int
    key: StarkKeyPair
    chain_id: int


@dataclass(frozen=True)
class RunLimits:
    """How each request runs: the pool, the allowed hints and the seconds one run may take."""

    pool: RunnerPool
    allowed_hints: frozenset[str]
    timeout: float


@dataclass
class LiveSession:
    """One job's session while it runs (the p2p/stream.py `OpenSession` of its client)."""

    job_hash: int
    header: JobHeader
    body: JobBody
    signed: SignedStreamSession
    session_key: StarkKeyPair
    client: ID | None
    log_path: Path
    idle_timeout: float
    ends_at: float
    signer: Signer
    runs: RunLimits
    clock: Clock
    max_requests: int
    requests: list[list[int]] = field(default_factory=list)
    steps: int = 0
    input_bytes: int = 0
    opened: trio.Event = field(default_factory=trio.Event)
    ended: trio.Event = field(default_factory=trio.Event)

    async def answer(self, request: Sequence[int]) -> StreamAnswer:
        """Run one request and sign its reply; StreamRefused if there is none to give."""
        self._check_room(request)
        received = self.clock()
        try:
            result = await self.runs.pool.run(RunRequest(
                program=self.body.program, program_input=request_input(request),
                layout=self.body.layout, max_steps=self.header.max_steps,
                timeout=self.runs.timeout, allowed_hints=self.runs.allowed_hints,
            ))
            reply = reply_of(request, result.output)
        except RunFailure as failure:
            raise StreamRefused(f"the program failed on this request ({failure.reason.value}):"
                                f" {failure.message}") from None
        if result.program_hash != self.header.program_hash:
            self.close()
            raise StreamRefused("the job body's program is not the header's; session ended")
        statement = StreamReply(self.job_hash, received, self.clock(), felts_digest(request),
                                felts_digest(reply))
        signed = sign_reply(statement, self.signer.chain_id, self.signer.account,
                            self.session_key)
        try:
            answer = StreamAnswer(signed, tuple(reply))
        except CodecError as error:
            raise StreamRefused(f"the reply cannot be sent: {error}") from None
        self._record(request, reply, statement, result.steps)
        return answer

    def close(self) -> None:
        """No more requests: the session settles."""
        self.ended.set()

    def _check_room(self, request: Sequence[int]) -> None:
        if self.ended.is_set():
            raise StreamRefused("the session has ended")
        if len(self.requests) >= self.max_requests:
            raise StreamRefused(f"the session answered its {self.max_requests} requests; "
                                "close it and start another job")
        if self.steps * 2 > self.header.max_steps:
            raise StreamRefused("the session used half the job's max_steps (the settle run "
                                "needs the rest); close it and start another job")
        if self.input_bytes + _json_size(request) > limits.MAX_PROGRAM_INPUT_BYTES:
            raise StreamRefused("the request log is as large as a program input may be; "
                                "close the session and start another job")

    def _record(self, request: Sequence[int], reply: Sequence[int], statement: StreamReply,
                steps: int) -> None:
        entry = {"input": list(request), "output": list(reply), "steps": steps,
                 "time_from_ms": statement.time_from_ms, "time_to_ms": statement.time_to_ms}
        with self.log_path.open("a") as log_file:
            log_file.write(json.dumps(entry) + "\n")
        self._count(list(request), steps)

    def _count(self, request: list[int], steps: int) -> None:
        self.requests.append(request)
        self.steps += steps
        self.input_bytes += _json_size(request)

    def restore(self) -> None:
        """Take up the requests a previous run of this node logged for the job."""
        if not self.log_path.exists():
            return
        for line in self.log_path.read_text().splitlines():
            entry = json.loads(line)
            self._count(entry["input"], entry["steps"])


class StreamSessions:
    """The executor's streaming sessions (the p2p/stream.py `SessionHost` of its node)."""

    def __init__(self, signer: Signer, runs: RunLimits, settings: StreamSection, data_dir: Path,
                 clock: Clock = unix_ms) -> None:
        self.signer = signer
        self.runs = runs
        self.settings = settings
        self.directory = data_dir / "streams"
        self.clock = clock
        self._live: dict[int, LiveSession] = {}
        self.open_wait = params.STREAM_SESSION_WAIT
        """Seconds an open waits for its session to start."""

    @classmethod
    def of_executor(cls, services: Services, pool: RunnerPool,
                    allowed_hints: frozenset[str]) -> StreamSessions:
        """The sessions of an executor node: its account, pool, hints and settings."""
        config = services.config
        signer = Signer(services.wallet.address, services.wallet.key, services.network.chain_id)
        runs = RunLimits(pool, allowed_hints, config.executor.run_timeout)
        return cls(signer, runs, config.stream, config.data_dir)

    def serve(self, host: IHost) -> None:
        """Answer session opens and settle queries on `host`."""
        self.directory.mkdir(parents=True, exist_ok=True)
        serve(host, self)

    async def run_session(self, job_hash: int, header: JobHeader, body: JobBody,
                          client: ID | None) -> JobBody:
        """Hold the job's session until it ends; return its settle body (at once if it
        ended before)."""
        settled = self._path(job_hash, ".settle")
        if settled.exists():
            return JobBody.decode(settled.read_bytes())
        live = self._start(job_hash, header, body, client)
        try:
            with trio.move_on_after(self.settings.idle_timeout):
                await live.opened.wait()
            if live.opened.is_set():
                with trio.move_on_at(live.ends_at):
                    await live.ended.wait()
        finally:
            live.close()
            del self._live[job_hash]
        settle = JobBody(body.program, _compact(settle_input(live.requests)), body.layout)
        settled.write_bytes(settle.encode())
        log.info("stream session ended", extra={"job": hex(job_hash),
                                                "requests": len(live.requests),
                                                "steps": live.steps})
        return settle

    def _start(self, job_hash: int, header: JobHeader, body: JobBody,
               client: ID | None) -> LiveSession:
        session_key = StarkKeyPair.generate()
        expires_at = int(min(time.time() + self.settings.max_session,
                             header.deadline - SETTLE_RESERVE_S))
        announcement = StreamSession(job_hash, self.signer.account, session_key.public_key,
                                     max(expires_at, 0))
        live = LiveSession(
            job_hash=job_hash, header=header, body=body,
            signed=sign_session(announcement, self.signer.chain_id, self.signer.key),
            session_key=session_key, client=client,
            log_path=self._path(job_hash, ".jsonl"), idle_timeout=self.settings.idle_timeout,
            ends_at=trio.current_time() + (expires_at - time.time()), signer=self.signer,
            runs=self.runs, clock=self.clock, max_requests=self.settings.max_requests,
        )
        live.restore()
        self._live[job_hash] = live
        log.info("stream session started", extra={"job": hex(job_hash),
                                                  "session_key": hex(session_key.public_key),
                                                  "expires_at": expires_at,
                                                  "logged_requests": len(live.requests)})
        return live

    async def open(self, job_hash: int, peer: ID) -> LiveSession:
        """The job's session for `peer`, waiting for it to start for a while (the executor may
        still be fetching the body); StreamRefused if there is none for this peer."""
        with trio.move_on_after(self.open_wait):
            while job_hash not in self._live:
                await trio.sleep(OPEN_POLL_S)
        live = self._live.get(job_hash)
        if live is None:
            raise StreamRefused(f"no streaming session for job {job_hash:#x} on this executor")
        if live.client is not None and live.client != peer:
            raise StreamRefused("only the peer that published the job may open its session")
        if live.opened.is_set() or live.ended.is_set():
            raise StreamRefused("the session was opened already; it takes one client stream")
        live.opened.set()
        log.info("stream session opened", extra={"job": hex(job_hash), "peer": str(peer)})
        return live

    async def settle_body(self, job_hash: int) -> JobBody:
        settled = self._path(job_hash, ".settle")
        if not settled.exists():
            raise StreamRefused(f"no finished streaming session for job {job_hash:#x} here")
        return JobBody.decode(settled.read_bytes())

    def _path(self, job_hash: int, suffix: str) -> Path:
        return self.directory / f"{job_hash:064x}{suffix}"


async def settle_body_for(host: IHost, executor_peer: ID, job_hash: int,
                          body: JobBody) -> JobBody:
    """The settle body of a streaming job from its executor, checked against the job's body
    (the same program and layout, a request log as input); NotFound says why there is none."""
    try:
        settle = await fetch_settle_body(host, executor_peer, job_hash)
    except (StreamFailure, StreamRefused) as error:
        raise NotFound(f"no settle body for streaming job {job_hash:#x}: {error}") from error
    if (settle.program, settle.layout) != (body.program, body.layout):
        raise NotFound(f"the settle body of job {job_hash:#x} is for another program or layout")
    if not isinstance(json.loads(settle.program_input).get("requests"), list):
        raise NotFound(f"the settle body of job {job_hash:#x} holds no request log")
    return settle


def _json_size(request: Sequence[int]) -> int:
    return len(json.dumps(list(request))) + 1


def _compact(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
