"""Streaming sessions between real libp2p hosts on 127.0.0.1, each request a real Cairo run.

The executor side is `StreamSessions` with a real worker pool; the client is `open_session`.
Only the forging tests wrap the executor's answers to alter them (a fault an honest executor
cannot be made to commit); a skewed clock is the real executor given another clock.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio
from libp2p.utils import encode_uvarint, encode_varint_prefixed

from cairo_jobs.examples import EXAMPLES, compiled, example_hints
from cairo_jobs.model import RunRequest
from cairo_jobs.pool import RunnerPool
from cairo_jobs.program import load_program, program_hash
from cairo_jobs.streaming import STREAM_INPUT_BYTES
from node.commands.stream_cmd import parse_request
from node.config import StreamSection
from node.roles.streaming import RunLimits, Signer, StreamSessions, settle_body_for
from node.stream_client import Rejected, StreamJob, open_session
from p2p.bufstream import BufferedStream
from p2p.content import NotFound
from p2p.host import GuardedHost
from p2p.messages import JobBody, JobHeader, SignedStreamSession
from p2p.signing import KnownPublicKeys, job_hash, sign_reply
from p2p.stark import StarkKeyPair
from p2p.stream import (
    PROTOCOL,
    StreamOpen,
    StreamRefusal,
    StreamRefused,
    StreamRequest,
    read_frame,
    unix_ms,
)
from tests.p2p.nodes import connect, running_hosts

CHAIN_ID = 0x534E5F5345504F4C4941
EXECUTOR = 0x4E58
PROGRAM = compiled("stream_digest")
BODY = JobBody(PROGRAM, STREAM_INPUT_BYTES, "small")


def make_header(max_steps: int = 100_000) -> JobHeader:
    return JobHeader(
        chain_id=CHAIN_ID, registry=0x1234, delegator=0xDE1E, body_id=BODY.body_id,
        program_hash=program_hash(load_program(PROGRAM.decode())), max_steps=max_steps,
        reward=10**15, deadline=int(time.time()) + 600, nonce=7,
    )


@dataclass
class Net:
    """An executor host serving sessions, a client host and a third (validator) host."""

    executor: GuardedHost
    client: GuardedHost
    other: GuardedHost
    sessions: StreamSessions
    account_key: StarkKeyPair
    pool: RunnerPool
    nursery: trio.Nursery
    settled: dict[int, JobBody]

    def start(self, header: JobHeader, client: bool = True) -> StreamJob:
        """Start the job's session (for the client host only, unless `client` is False)."""
        key = job_hash(header)
        peer = self.client.get_id() if client else None

        async def run() -> None:
            self.settled[key] = await self.sessions.run_session(key, header, BODY, peer)

        self.nursery.start_soon(run)
        return StreamJob(key, EXECUTOR, CHAIN_ID)

    def checker(self) -> KnownPublicKeys:
        return KnownPublicKeys({EXECUTOR: self.account_key.public_key})

    async def settled_body(self, key: int) -> JobBody:
        with trio.fail_after(10):
            while key not in self.settled:
                await trio.sleep(0.05)
        return self.settled[key]


@asynccontextmanager
async def network(tmp_path: Path, clock: Callable[[], int] = unix_ms,
                  **settings: float) -> AsyncIterator[Net]:
    account_key = StarkKeyPair.generate()
    async with running_hosts(3) as (executor, client, other), RunnerPool(1) as pool, \
            trio.open_nursery() as nursery:
        await connect(client, executor)
        await connect(other, executor)
        sessions = StreamSessions(
            Signer(EXECUTOR, account_key, CHAIN_ID), RunLimits(pool, example_hints(), 30.0),
            StreamSection(**{"idle_timeout": 10.0, **settings}), tmp_path, clock,
        )
        sessions.open_wait = 1.0
        sessions.serve(executor)
        yield Net(executor, client, other, sessions, account_key, pool, nursery, {})
        nursery.cancel_scope.cancel()


async def test_a_session_answers_each_request_and_settles_on_the_client_log(tmp_path: Path):
    async with network(tmp_path) as net:
        job = net.start(make_header())
        async with open_session(net.client, net.executor.get_id(), job, net.checker(),
                                skew_ms=2000) as session:
            first = await session.request([1, 2, 3])
            second = await session.request([10, 20])
            assert first.time_from_ms <= first.time_to_ms <= second.time_from_ms
            expected = session.expected_output()
        settle = await net.settled_body(job.job_hash)
        alone = await net.pool.run(RunRequest(program=PROGRAM,
                                              program_input={"request": [1, 2, 3]}))
        assert alone.output[:4] == [3, 1, 2, 3] and list(first.output) == alone.output[4:]
        assert first.output[0] == 6 and second.output[0] == 30

        assert json.loads(settle.program_input) == {"requests": [[1, 2, 3], [10, 20]]}
        settled_run = await net.pool.run(RunRequest(program=settle.program,
                                                    program_input=json.loads(settle.program_input)))
        assert settled_run.output == expected and expected[0] == 2
        # A validator gets the same settle body from the executor, checked against the job's.
        assert await settle_body_for(net.other, net.executor.get_id(), job.job_hash, BODY) == settle
        other_program = JobBody(compiled("fibonacci"), STREAM_INPUT_BYTES, "small")
        with pytest.raises(NotFound, match="another program"):
            await settle_body_for(net.other, net.executor.get_id(), job.job_hash, other_program)


def forging(sessions: StreamSessions, forge: Callable[..., object]) -> None:
    """Make the executor alter each answer with `forge(answer, live)` before it is sent."""
    real_open = sessions.open

    async def open_forging(job: int, peer: object) -> object:
        live = await real_open(job, peer)  # type: ignore[arg-type]
        real_answer = live.answer

        async def answer(request: object) -> object:
            return forge(await real_answer(request), live)  # type: ignore[arg-type]

        live.answer = answer  # type: ignore[method-assign]
        return live

    sessions.open = open_forging  # type: ignore[method-assign]


def resigned(answer, live, *, key=None, **changes):  # type: ignore[no-untyped-def]
    statement = dataclasses.replace(answer.reply.reply, **changes)
    signed = sign_reply(statement, CHAIN_ID, EXECUTOR, key or live.session_key)
    return dataclasses.replace(answer, reply=signed)


FORGERIES = [
    (lambda a, live: resigned(a, live, key=StarkKeyPair.generate()), "signature"),
    (lambda a, live: resigned(a, live, job_hash=live.job_hash + 1), "is for job"),
    (lambda a, live: dataclasses.replace(a, output=(a.output[0] + 1, *a.output[1:])),
     "not the one the reply signs"),
    (lambda a, live: resigned(a, live, input_hash=bytes(32)), "another input"),
]


async def test_forged_replies_are_rejected_and_kept_out_of_the_log(tmp_path: Path):
    async with network(tmp_path) as net:
        forgery: list[Callable[..., object]] = []
        forging(net.sessions, lambda answer, live: forgery[0](answer, live))
        for nonce, (forge, complaint) in enumerate(FORGERIES):
            forgery[:] = [forge]
            job = net.start(dataclasses.replace(make_header(), nonce=nonce))
            async with open_session(net.client, net.executor.get_id(), job, net.checker(),
                                    skew_ms=2000) as session:
                with pytest.raises(Rejected, match=complaint):
                    await session.request([1, 2])
                assert session.log == [] and session.expected_output() == [0, 0]


async def test_replies_from_a_skewed_clock_are_rejected(tmp_path: Path):
    offset = [0]
    async with network(tmp_path, clock=lambda: unix_ms() + offset[0]) as net:
        for nonce, offset[0] in enumerate([-5000, 5000]):
            job = net.start(dataclasses.replace(make_header(), nonce=nonce))
            async with open_session(net.client, net.executor.get_id(), job, net.checker(),
                                    skew_ms=1000) as session:
                with pytest.raises(Rejected, match="clock is off"):
                    await session.request([1])
        job = net.start(dataclasses.replace(make_header(), nonce=9))
        async with open_session(net.client, net.executor.get_id(), job, net.checker(),
                                skew_ms=10_000) as session:
            assert (await session.request([1])).output[0] == 1  # within a wider bound


async def test_opens_that_are_not_the_clients_own_session_are_refused(tmp_path: Path):
    async with network(tmp_path) as net:
        for nonce, change, complaint in [
            (1, {"executor": EXECUTOR + 1}, "assigned executor"),
            (2, {"chain_id": CHAIN_ID + 1}, "not signed"),
        ]:
            job = net.start(dataclasses.replace(make_header(), nonce=nonce))
            wrong = dataclasses.replace(job, **change)
            with pytest.raises(Rejected, match=complaint):
                async with open_session(net.client, net.executor.get_id(), wrong, net.checker(),
                                        skew_ms=2000):
                    pass
        with pytest.raises(StreamRefused, match="no streaming session"):
            async with open_session(net.client, net.executor.get_id(),
                                    dataclasses.replace(job, job_hash=5), net.checker(),
                                    skew_ms=2000):
                pass
        job = net.start(make_header())
        with pytest.raises(StreamRefused, match="only the peer that published"):
            async with open_session(net.other, net.executor.get_id(), job, net.checker(),
                                    skew_ms=2000):
                pass
        async with open_session(net.client, net.executor.get_id(), job, net.checker(),
                                skew_ms=2000) as session:
            await session.request([4])
            with pytest.raises(StreamRefused, match="opened already"):
                async with open_session(net.client, net.executor.get_id(), job, net.checker(),
                                        skew_ms=2000):
                    pass
            await session.request([5])  # the first stream goes on
        assert json.loads((await net.settled_body(job.job_hash)).program_input) == {
            "requests": [[4], [5]]}


async def test_refused_requests_leave_the_session_open_until_its_step_budget(tmp_path: Path):
    async with network(tmp_path) as net:
        job = net.start(make_header(max_steps=2000))
        async with open_session(net.client, net.executor.get_id(), job, net.checker(),
                                skew_ms=2000) as session:
            with pytest.raises(StreamRefused, match="the program failed on this request"):
                await session.request(list(range(1001)))  # the program takes 1000 at most
            assert (await session.request([2, 2])).output[0] == 4
            with pytest.raises(StreamRefused, match="half the job's max_steps"):
                for value in range(50):
                    await session.request([value, value])
            answered = len(session.log)
        settle = await net.settled_body(job.job_hash)
        assert json.loads(settle.program_input)["requests"][0] == [2, 2]
        run = await net.pool.run(RunRequest(program=settle.program, max_steps=2000,
                                            program_input=json.loads(settle.program_input)))
        assert run.output == session.expected_output() and run.output[0] == answered > 1


async def test_an_unopened_session_ends_when_idle_with_an_empty_log(tmp_path: Path):
    async with network(tmp_path, idle_timeout=0.5) as net:
        job = net.start(make_header())
        with pytest.raises(NotFound, match="no finished streaming session"):
            await settle_body_for(net.other, net.executor.get_id(), job.job_hash, BODY)
        settle = await net.settled_body(job.job_hash)
        assert json.loads(settle.program_input) == {"requests": []}
        # The settle body is kept: asked again (a retried job), the same body comes back.
        again = await net.sessions.run_session(job.job_hash, make_header(), BODY, None)
        assert again == settle
        with pytest.raises(StreamRefused, match="no streaming session"):
            async with open_session(net.client, net.executor.get_id(), job, net.checker(),
                                    skew_ms=2000):
                pass


async def raw_exchange(net: Net, data: bytes) -> list[object]:
    """Send `data` on a fresh session stream; every frame the executor answers until it closes."""
    stream = await net.client.new_stream(net.executor.get_id(), [PROTOCOL])
    await stream.write(data)
    buffered, frames = BufferedStream(stream), []
    with trio.fail_after(15):
        while True:
            try:
                frames.append(await read_frame(
                    buffered, (StreamRefusal, SignedStreamSession), 4096))
            except trio.EndOfChannel:
                return frames


GARBAGE = [
    (b"\xff" * 12, "bad frame"),  # a length prefix longer than any uvarint
    (encode_uvarint(10**9) + b"x", "bad frame"),  # a length far above the limit
    (encode_varint_prefixed(b"\x00garbage"), "expected stream_open"),
    (encode_varint_prefixed(StreamRequest((1,)).encode()), "expected stream_open"),
    (encode_varint_prefixed(b"\x81\xa4type\xabstream_open"), "protocol version"),
]


async def test_garbage_gets_a_refusal_on_its_stream_and_the_node_serves_on(tmp_path: Path):
    async with network(tmp_path) as net:
        job, spoiled = net.start(make_header()), net.start(
            dataclasses.replace(make_header(), nonce=9))
        for data, complaint in GARBAGE:
            frames = await raw_exchange(net, data)
            assert len(frames) == 1 and complaint in frames[0].reason  # type: ignore[attr-defined]
        async with open_session(net.client, net.executor.get_id(), job, net.checker(),
                                skew_ms=2000) as session:
            assert (await session.request([3])).output[0] == 3
            # Garbage inside another session ends that session's stream only.
            frames = await raw_exchange(net, encode_varint_prefixed(
                StreamOpen(spoiled.job_hash).encode()) + encode_varint_prefixed(b"\xc1bad"))
            assert isinstance(frames[0], SignedStreamSession)
            assert "expected stream_request" in frames[1].reason  # type: ignore[attr-defined]
            assert (await session.request([8])).output[0] == 8
        assert json.loads((await net.settled_body(spoiled.job_hash)).program_input) == {
            "requests": []}


@pytest.mark.parametrize("line, complaint", [
    ("[1, 2", "not JSON"),
    ('{"request": [1]}', "JSON list of integers"),
    ("[1.5]", "JSON list of integers"),
    ("[true]", "JSON list of integers"),
    ('["0x1"]', "JSON list of integers"),
    (f"[{2**251 + 17 * 2**192 + 1}]", "JSON list of integers"),
    (json.dumps([0] * 1025), "at most 1024 felts"),
])
def test_a_bad_stdin_line_says_what_a_request_is(line: str, complaint: str):
    with pytest.raises(ValueError, match=complaint):
        parse_request(line)
    largest = 2**251 + 17 * 2**192
    assert parse_request(f"[0, 1, {largest}]\n") == [0, 1, largest]


def test_stream_arguments_are_refused_with_what_is_wrong(tmp_path: Path):
    program = str(EXAMPLES["stream_digest"].path)
    for args, complaint in [
        (["--input", '{"n": 1}'], "drop --input"),
        (["--skew-ms", "0"], "must be positive"),
        (["--skew-ms", "soon"], "is not an integer"),
        (["--cross-check", "often"], "is not a number"),
        (["--cross-check", "1.5"], "not between 0 (off) and 1"),
        (["--cross-check", "-0.1"], "not between 0 (off) and 1"),
    ]:
        done = subprocess.run(
            [sys.executable, "-m", "node", "delegate", program, "--stream", "--reward", "5",
             *args, "--data-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
            env={"PATH": "/usr/bin:/bin", "ZETINA_KEYSTORE_PASSWORD": "x"},
        )
        assert done.returncode in (1, 2) and complaint in done.stderr, (args, done.stderr)


def test_a_cross_check_rate_out_of_range_in_the_config_is_refused(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-m", "node", "delegate", str(EXAMPLES["stream_squares"].path),
         "--stream", "--reward", "5", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env={"PATH": "/usr/bin:/bin", "ZETINA_KEYSTORE_PASSWORD": "x",
             "ZETINA_STREAM_CROSS_CHECK_RATE": "2"},
    )
    assert done.returncode == 1 and "cross-check rate 2.0 is not between 0 and 1" in done.stderr
