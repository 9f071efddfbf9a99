"""The job topics' validators: every way a header, bid or assignment can be wrong."""

from __future__ import annotations

import dataclasses
import secrets

import pytest
from libp2p.peer.id import ID

from p2p import stark
from p2p.codec import CodecError
from p2p.messages import (
    Assignment,
    Bid,
    JobHeader,
    ScoreReport,
    SignedJobHeader,
    WitnessNotice,
)
from p2p.signing import (
    job_hash,
    sign_assignment,
    sign_bid,
    sign_header,
    sign_notice,
    sign_score,
)
from p2p.stark import StarkKeyPair
from p2p.topic_checks import (
    CLOCK_SKEW_S,
    EXPIRY_GRACE_S,
    SCORE_MAX_AGE_S,
    NetworkContext,
    assignment_validator,
    bid_validator,
    header_validator,
    notice_validator,
    score_validator,
)
from p2p.validation import Outcome

NOW = 1_800_000_000
CHAIN, REGISTRY, DELEGATOR, EXECUTOR = 0x534E, 0x1234, 0xD1, 0xE1
DELEGATOR_KEY = StarkKeyPair.from_private_key(0xD1D1)
EXECUTOR_KEY = StarkKeyPair.from_private_key(0xE1E1)
KEYS = {DELEGATOR: DELEGATOR_KEY.public_key, EXECUTOR: EXECUTOR_KEY.public_key}.get
CONTEXT = NetworkContext(CHAIN, REGISTRY, clock=lambda: NOW)
ORIGIN = ID(b"\x00\x01peer")
HEADER = JobHeader(
    chain_id=CHAIN,
    registry=REGISTRY,
    delegator=DELEGATOR,
    body_id=b"\x01" * 32,
    program_hash=0x55,
    max_steps=10**6,
    reward=10**15,
    deadline=NOW + 600,
    nonce=1,
)


def judge_header(header: JobHeader, key: StarkKeyPair = DELEGATOR_KEY, keys=KEYS):
    return header_validator(CONTEXT, keys)(sign_header(header, key).encode(), ORIGIN)


def test_valid_header_is_accepted_until_its_deadline() -> None:
    verdict = judge_header(HEADER)
    assert verdict.outcome is Outcome.ACCEPT
    assert verdict.expires_at == HEADER.deadline  # copies still queued then are not sent


@pytest.mark.parametrize(
    ("change", "outcome", "reason"),
    [
        ({"chain_id": CHAIN + 1}, Outcome.REJECT, "wrong chain"),
        ({"registry": REGISTRY + 1}, Outcome.REJECT, "wrong registry"),
        ({"deadline": NOW - int(EXPIRY_GRACE_S) - 1}, Outcome.IGNORE, "expired"),
        ({"deadline": NOW - 1}, Outcome.IGNORE, "deadline just passed"),
        ({"delegator": 0xABC}, Outcome.IGNORE, "signer's public key not known"),
    ],
)
def test_header_checks(change: dict, outcome: Outcome, reason: str) -> None:
    verdict = judge_header(dataclasses.replace(HEADER, **change))
    assert (verdict.outcome, verdict.reason) == (outcome, reason)


def test_forged_and_tampered_headers_are_rejected() -> None:
    assert judge_header(HEADER, key=EXECUTOR_KEY).reason == "bad signature"
    signed = sign_header(HEADER, DELEGATOR_KEY)
    tampered = SignedJobHeader(dataclasses.replace(HEADER, reward=10**18), signed.signature)
    verdict = header_validator(CONTEXT, KEYS)(tampered.encode(), ORIGIN)
    assert (verdict.outcome, verdict.reason) == (Outcome.REJECT, "bad signature")


@pytest.mark.parametrize(
    "data", [b"", b"\xc0", b"garbage", sign_header(HEADER, DELEGATOR_KEY).encode()[:-1]]
)
def test_undecodable_messages_are_rejected_on_every_topic(data: bytes) -> None:
    validators = {
        "undecodable header": header_validator(CONTEXT, KEYS),
        "undecodable bid": bid_validator(CONTEXT, KEYS),
        "undecodable assignment": assignment_validator(CONTEXT, KEYS, {}.get),
        "undecodable witness notice": notice_validator(CONTEXT, KEYS),
        "undecodable score report": score_validator(CONTEXT, KEYS),
    }
    for reason, validate in validators.items():
        assert (validate(data, ORIGIN).outcome, validate(data, ORIGIN).reason) == (
            Outcome.REJECT,
            reason,
        )


def test_bids_are_checked_against_the_executor_and_chain() -> None:
    bid = Bid(job_hash=job_hash(HEADER), executor=EXECUTOR, price=10**14, finish_by=NOW + 60)
    validate = bid_validator(CONTEXT, KEYS)
    assert validate(sign_bid(bid, CHAIN, EXECUTOR_KEY).encode(), ORIGIN).outcome is Outcome.ACCEPT
    assert (
        validate(sign_bid(bid, CHAIN + 1, EXECUTOR_KEY).encode(), ORIGIN).reason == "bad signature"
    )
    assert validate(sign_bid(bid, CHAIN, DELEGATOR_KEY).encode(), ORIGIN).reason == "bad signature"


def test_assignments_need_a_known_job_and_its_delegator() -> None:
    assignment = Assignment(job_hash(HEADER), EXECUTOR, window_end=NOW + 120, attempt=0)
    known = {job_hash(HEADER): HEADER}.get
    validate = assignment_validator(CONTEXT, KEYS, known)
    good = sign_assignment(assignment, CHAIN, DELEGATOR, DELEGATOR_KEY).encode()
    assert validate(good, ORIGIN).outcome is Outcome.ACCEPT
    by_executor = sign_assignment(assignment, CHAIN, DELEGATOR, EXECUTOR_KEY).encode()
    assert validate(by_executor, ORIGIN).reason == "bad signature"
    unknown = assignment_validator(CONTEXT, KEYS, {}.get)(good, ORIGIN)
    assert (unknown.outcome, unknown.reason) == (Outcome.IGNORE, "assignment for an unknown job")


def test_witness_notices_carry_a_valid_header_and_the_executors_signature() -> None:
    validate = notice_validator(CONTEXT, KEYS)
    signed_header = sign_header(HEADER, DELEGATOR_KEY)
    notice = WitnessNotice(job_hash(HEADER), EXECUTOR, b"\x07" * 32)

    def judge(notice: WitnessNotice, key: StarkKeyPair = EXECUTOR_KEY, header=signed_header):
        verdict = validate(sign_notice(notice, header, key).encode(), ORIGIN)
        return verdict.outcome, verdict.reason

    assert judge(notice)[0] is Outcome.ACCEPT
    assert judge(notice, DELEGATOR_KEY) == (Outcome.REJECT, "bad signature")
    other_job = dataclasses.replace(notice, job_hash=notice.job_hash + 1)
    assert judge(other_job) == (Outcome.REJECT, "notice for another job")
    stranger = dataclasses.replace(notice, executor=0xABC)
    assert judge(stranger) == (Outcome.IGNORE, "signer's public key not known")
    forged_header = SignedJobHeader(HEADER, sign_header(HEADER, EXECUTOR_KEY).signature)
    assert judge(notice, header=forged_header) == (Outcome.REJECT, "bad signature")
    expired = sign_header(dataclasses.replace(HEADER, deadline=NOW - 3600), DELEGATOR_KEY)
    assert judge(notice, header=expired) == (Outcome.IGNORE, "expired")


VALIDATOR = DELEGATOR  # any account may sign a score; whom to believe is the reader's choice
REPORT = ScoreReport(VALIDATOR, EXECUTOR, tested=5, correct=4, median_latency_ms=2100,
                     score=6100, issued_at=NOW)


@pytest.mark.parametrize(
    ("change", "key", "outcome", "reason"),
    [
        ({}, DELEGATOR_KEY, Outcome.ACCEPT, ""),
        ({}, EXECUTOR_KEY, Outcome.REJECT, "bad signature"),
        ({"issued_at": NOW + int(CLOCK_SKEW_S) + 1}, DELEGATOR_KEY, Outcome.REJECT,
         "score report from the future"),
        ({"issued_at": NOW - int(SCORE_MAX_AGE_S) - 1}, DELEGATOR_KEY, Outcome.IGNORE,
         "stale score report"),
        ({"validator": 0xABC}, DELEGATOR_KEY, Outcome.IGNORE, "signer's public key not known"),
    ],
)
def test_score_reports_are_checked(change: dict, key: StarkKeyPair, outcome, reason) -> None:
    report = dataclasses.replace(REPORT, **change)
    verdict = score_validator(CONTEXT, KEYS)(sign_score(report, CHAIN, key).encode(), ORIGIN)
    assert (verdict.outcome, verdict.reason) == (outcome, reason)


def test_score_report_bounds() -> None:
    with pytest.raises(CodecError, match="basis points"):
        dataclasses.replace(REPORT, score=10_001)
    with pytest.raises(CodecError, match="more correct"):
        dataclasses.replace(REPORT, correct=6)


def count_verifies(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the ECDSA verifications actually run (each still runs the real check)."""
    calls: list[int] = []
    verify = stark.verify

    def counted(*args):
        calls.append(1)
        return verify(*args)

    monkeypatch.setattr(stark, "verify", counted)
    return calls


def test_a_republished_header_is_hashed_and_verified_once(monkeypatch) -> None:
    calls = count_verifies(monkeypatch)
    header = dataclasses.replace(HEADER, nonce=secrets.randbits(64))
    data = sign_header(header, DELEGATOR_KEY).encode()
    validate = header_validator(CONTEXT, KEYS)
    verdicts = [validate(data, ORIGIN) for _ in range(3)]
    assert [v.outcome for v in verdicts] == [Outcome.ACCEPT] * 3
    assert len(calls) == 1


def test_every_copy_of_a_forged_header_is_rejected_though_verified_once(monkeypatch) -> None:
    calls = count_verifies(monkeypatch)
    header = dataclasses.replace(HEADER, nonce=secrets.randbits(64))
    data = sign_header(header, EXECUTOR_KEY).encode()
    validate = header_validator(CONTEXT, KEYS)
    verdicts = [validate(data, ORIGIN) for _ in range(3)]
    assert [(v.outcome, v.reason) for v in verdicts] == [(Outcome.REJECT, "bad signature")] * 3
    assert len(calls) == 1


def test_a_remembered_check_is_not_reused_for_another_public_key() -> None:
    header = dataclasses.replace(HEADER, nonce=secrets.randbits(64))
    data = sign_header(header, DELEGATOR_KEY).encode()
    rotated = {DELEGATOR: EXECUTOR_KEY.public_key}.get  # the account's key changed on chain
    assert header_validator(CONTEXT, KEYS)(data, ORIGIN).outcome is Outcome.ACCEPT
    assert header_validator(CONTEXT, rotated)(data, ORIGIN).outcome is Outcome.REJECT
