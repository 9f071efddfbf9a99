"""Cheat reports on the devnet: a lying streaming executor is slashed once, every refusal has its
message, and the off-chain checker (`registry_contract.cheats`) agrees with the contract.

The truth of a request is a real run of a streaming program whose fact the FactRegistry holds;
sessions and replies carry real signatures (see `streams.py`).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

import pytest

from cairo_jobs.facts import fact_hash
from p2p.codec import CodecError
from p2p.messages import (
    CheatReport,
    JobHeader,
    SignedJobHeader,
    SignedStreamReply,
    SignedStreamSession,
    StreamReply,
    StreamSession,
)
from p2p.signing import sign_reply
from p2p.stark import StarkKeyPair
from registry_contract.cheats import check_cheat_evidence
from registry_contract.client import Refusal, Refused
from registry_contract.events import CheatReported, registry_events_in
from tests.registry_contract.conftest import World, token_balances
from tests.registry_contract.streams import (
    REQUEST,
    Stream,
    make_stream,
    open_session,
    run,
    staked,
)


@pytest.fixture(scope="module")
def stream(world: World) -> Stream:
    return make_stream(world)


def test_a_lying_reply_is_slashed_once(world: World, stream: Stream) -> None:
    """The reporter gets half the stake, the delegator's escrow the rest; a replay is refused."""
    stake = staked(world)
    report = stream.report(stream.lie())
    assert asyncio.run(check_cheat_evidence(report, stream.judge())) is None
    reporter = world.other
    escrow = asyncio.run(reporter.registry.balance_of(world.delegator.address))
    [tokens] = asyncio.run(token_balances(reporter.account, [reporter.address]))

    receipt = asyncio.run(reporter.registry.report_cheat(report))

    [tokens_after] = asyncio.run(token_balances(reporter.account, [reporter.address]))
    assert tokens_after == tokens + stake // 2 - receipt.actual_fee.amount
    delegator_escrow = asyncio.run(reporter.registry.balance_of(world.delegator.address))
    assert delegator_escrow == escrow + stake - stake // 2
    assert asyncio.run(world.executor.registry.stake_of()) == 0
    assert registry_events_in(receipt.events, world.deployment.registry) == [
        CheatReported(job_hash=stream.session.session.job_hash, executor=world.executor.address,
                      reporter=reporter.address, slashed=stake)
    ]
    staked(world)
    with pytest.raises(Refused) as caught:
        asyncio.run(reporter.registry.report_cheat(report))
    assert caught.value.refusal == Refusal.ALREADY_REPORTED


def test_slashing_takes_the_stake_pending_unstake_too(world: World, stream: Stream) -> None:
    """An executor that asked to unstake is still slashed for everything, and has nothing left
    to unstake."""
    stake = staked(world)
    asyncio.run(world.executor.registry.request_unstake(stake))
    first, second = stream.reply(REQUEST, (9, 16)), stream.reply(REQUEST, (9, 15))
    report = stream.contradiction(first, second)
    assert asyncio.run(check_cheat_evidence(report, stream.judge())) is None
    receipt = asyncio.run(world.other.registry.report_cheat(report))
    [event] = registry_events_in(receipt.events, world.deployment.registry)
    assert event == CheatReported(job_hash=stream.session.session.job_hash,
                                  executor=world.executor.address,
                                  reporter=world.other.address, slashed=stake)
    assert asyncio.run(world.executor.registry.stake_of()) == 0
    assert asyncio.run(world.executor.registry.pending_unstake()).amount == 0
    with pytest.raises(Refused) as caught:
        asyncio.run(world.other.registry.report_cheat(stream.contradiction(second, first)))
    assert caught.value.refusal == Refusal.ALREADY_REPORTED


def _resigned_header(stream: Stream, **changes: object) -> CheatReport:
    header = dataclasses.replace(stream.header.header, **changes)  # type: ignore[arg-type]
    return stream.report(stream.lie(), header=stream.world.sign(header))


def _other_session(
    stream: Stream, account_key: StarkKeyPair | None = None, job: int | None = None
) -> CheatReport:
    session, key = open_session(stream.world, stream.header.header, account_key, job)
    lie = sign_reply(stream.lie().reply, stream.world.chain_id, stream.world.executor.address, key)
    return stream.report(lie, session=session)


def _weak_fact(stream: Stream) -> CheatReport:
    program_hash, truth = run((5,))
    asyncio.run(stream.world.delegator.facts.register_fact(fact_hash(program_hash, list(truth)), 0))
    return stream.report(stream.reply((5,), (26,)), fact_output=truth)


CASES: dict[str, tuple[Callable[[Stream], CheatReport], Refusal]] = {
    "header of another chain": (
        lambda s: _resigned_header(s, chain_id=s.world.chain_id + 1), Refusal.WRONG_CHAIN),
    "header of another registry": (
        lambda s: _resigned_header(s, registry=0x1234), Refusal.WRONG_REGISTRY),
    "session of another job": (
        lambda s: _other_session(s, job=s.session.session.job_hash + 1),
        Refusal.WRONG_SESSION_JOB),
    "header not signed by its delegator": (
        lambda s: s.report(s.lie(), header=s.world.sign(s.header.header, s.world.other.key)),
        Refusal.BAD_SIGNATURE),
    "session not signed by the executor": (
        lambda s: _other_session(s, account_key=s.world.other.key), Refusal.BAD_SESSION_SIGNATURE),
    "reply of another job": (
        lambda s: s.report(s.lie(job=s.session.session.job_hash + 1)), Refusal.WRONG_REPLY_JOB),
    "reply not signed by the session key": (
        lambda s: s.report(s.lie(key=StarkKeyPair.generate())), Refusal.BAD_REPLY_SIGNATURE),
    "fact output shorter than its input": (
        lambda s: s.report(s.lie(), fact_output=(5, 3, 4)), Refusal.MALFORMED_OUTPUT),
    "fact not registered": (
        lambda s: s.report(s.lie(), fact_output=(2, 3, 4, 9, 17)), Refusal.UNKNOWN_FACT),
    "fact verified with too few bits": (_weak_fact, Refusal.WEAK_FACT),
    "reply for another input": (
        lambda s: s.report(s.reply((3, 5), (9, 25))), Refusal.INPUT_DIGEST_DIFFERS),
    "honest reply": (lambda s: s.report(s.reply(REQUEST, (9, 16))), Refusal.OUTPUTS_EQUAL),
    "two replies for different inputs": (
        lambda s: s.contradiction(s.reply(REQUEST, (9, 16)), s.reply((3, 5), (9, 25))),
        Refusal.DIFFERENT_INPUTS),
    "two equal replies": (
        lambda s: s.contradiction(s.reply(REQUEST, (9, 16)), s.reply(REQUEST, (9, 16))),
        Refusal.OUTPUTS_EQUAL),
    "second reply not signed by the session key": (
        lambda s: s.contradiction(s.lie(), s.reply(REQUEST, (9, 16), key=StarkKeyPair.generate())),
        Refusal.BAD_REPLY_SIGNATURE),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_evidence_is_refused_and_nothing_moves(world: World, stream: Stream, case: str):
    build, refusal = CASES[case]
    stake = staked(world)
    report = build(stream)
    assert asyncio.run(check_cheat_evidence(report, stream.judge())) == refusal
    with pytest.raises(Refused) as caught:
        asyncio.run(world.other.registry.report_cheat(report))
    assert caught.value.refusal == refusal
    assert caught.value.transaction_hash is not None  # reverted on chain: judged by the contract
    assert asyncio.run(world.executor.registry.stake_of()) == stake


def test_cheat_report_wire_format() -> None:
    """A report travels as one canonical message; a report with both kinds of evidence, or
    none, is refused when built and when decoded."""
    header = SignedJobHeader(JobHeader(1, 2, 3, bytes(32), 4, 5, 6, 7, 8), (1, 2))
    session = SignedStreamSession(StreamSession(9, 3, 10, 11), (1, 2))
    reply = SignedStreamReply(StreamReply(9, 1, 2, bytes(32), bytes(range(32))), (3, 4))
    for report in (CheatReport(header, session, reply, (1, 2, 3), None),
                   CheatReport(header, session, reply, (), reply)):
        assert CheatReport.decode(report.encode()) == report
    with pytest.raises(CodecError, match="exactly one"):
        CheatReport(header, session, reply, (), None)
    with pytest.raises(CodecError, match="exactly one"):
        CheatReport(header, session, reply, (1, 2, 3), reply)
    encoded = CheatReport(header, session, reply, (1, 2, 3), None).encode()
    with pytest.raises(CodecError):
        CheatReport.decode(encoded[:-3])
    with pytest.raises(CodecError):
        CheatReport.decode(encoded.replace(b"fact_output", b"fact_outpux"))
