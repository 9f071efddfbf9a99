"""A streaming session of the devnet world's executor whose job's program squares requests.

The truth of a request is a real run of `stream_square.cairo`; sessions and replies carry real
signatures (the executor's account key, a fresh session key).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cairo_jobs.facts import fact_hash
from cairo_jobs.model import RunRequest
from cairo_jobs.program import compile_source
from cairo_jobs.vm import execute
from p2p.messages import (
    CheatReport,
    JobHeader,
    SignedJobHeader,
    SignedStreamReply,
    SignedStreamSession,
    StreamReply,
    StreamSession,
    felts_digest,
)
from p2p.signing import KnownPublicKeys, job_hash, sign_reply, sign_session
from p2p.stark import StarkKeyPair
from registry_contract.cheats import Judge
from tests.registry_contract.conftest import MIN_SECURITY_BITS, World

PROGRAM = Path(__file__).with_name("stream_square.cairo")
REQUEST = (3, 4)
STAKE = 2 * 10**15
_times = itertools.count(1_700_000_000_000)


@dataclass(frozen=True)
class Stream:
    """A streaming session of the world's executor for a job whose program squares requests."""

    world: World
    header: SignedJobHeader
    session: SignedStreamSession
    session_key: StarkKeyPair
    truth: tuple[int, ...]
    """The registered run of REQUEST: [n, inputs..., squares...]."""

    def reply(
        self, request: Sequence[int], output: Sequence[int], *, key: StarkKeyPair | None = None,
        job: int | None = None,
    ) -> SignedStreamReply:
        """A fresh signed reply (its own times, so its own replay key) saying request -> output."""
        start = next(_times)
        reply = StreamReply(self.session.session.job_hash if job is None else job, start,
                            start + 5, felts_digest(request), felts_digest(output))
        return sign_reply(reply, self.world.chain_id, self.session.session.executor,
                          key or self.session_key)

    def lie(self, *, key: StarkKeyPair | None = None, job: int | None = None) -> SignedStreamReply:
        """A reply to REQUEST with a wrong output (the truth is (9, 16))."""
        return self.reply(REQUEST, (9, 17), key=key, job=job)

    def report(self, reply: SignedStreamReply, **changes: object) -> CheatReport:
        fields = {"header": self.header, "session": self.session, "reply": reply,
                  "fact_output": self.truth, "other_reply": None, **changes}
        return CheatReport(**fields)  # type: ignore[arg-type]

    def contradiction(self, reply: SignedStreamReply, other: SignedStreamReply) -> CheatReport:
        return self.report(reply, fact_output=(), other_reply=other)

    def judge(self) -> Judge:
        world = self.world
        keys = {party.address: party.key.public_key
                for party in (world.delegator, world.executor, world.other)}
        return Judge(world.chain_id, world.deployment.registry, MIN_SECURITY_BITS,
                     KnownPublicKeys(keys), world.delegator.facts)


def run(request: Sequence[int]) -> tuple[int, tuple[int, ...]]:
    """(program hash, output) of a real run of the streaming program on one request."""
    result = execute(RunRequest(program=compiled_program(), program_input={"request": request}))
    return result.program_hash, tuple(result.output)


@functools.cache
def compiled_program() -> bytes:
    return compile_source(PROGRAM.read_text(), PROGRAM.name)


def open_session(
    world: World, header: JobHeader, account_key: StarkKeyPair | None = None,
    job: int | None = None,
) -> tuple[SignedStreamSession, StarkKeyPair]:
    key = StarkKeyPair.generate()
    session = StreamSession(job_hash(header) if job is None else job, world.executor.address,
                            key.public_key, 2**40)
    return sign_session(session, world.chain_id, account_key or world.executor.key), key


def staked(world: World, amount: int = STAKE) -> int:
    """Make sure the executor has a stake; return it."""
    registry = world.executor.registry
    if asyncio.run(registry.stake_of()) == 0:
        asyncio.run(registry.stake(amount))
    return asyncio.run(registry.stake_of())


def make_stream(world: World) -> Stream:
    """A session for a fresh job whose truth for REQUEST is registered with 128 bits."""
    program_hash, truth = run(REQUEST)
    facts = world.delegator.facts
    asyncio.run(facts.register_fact(fact_hash(program_hash, list(truth)), 128))
    header = world.header(program_hash=program_hash)
    return Stream(world, world.sign(header), *open_session(world, header), truth)
