"""Signing and checking the signed wire messages.

Who signs what: the delegator signs its job headers and assignments, the executor its bids,
witness notices and streaming sessions, the validator its score reports; each signs the SNIP-12
hash of the message with its account address as signer. A streaming session's replies are
signed by the session's own key, over the SNIP-12 hash with the executor's address as signer
(so a reply is bound to its executor).
The job's identity, the *job hash*, is the SNIP-12 hash of its header.

Checking asks a `SignatureChecker` whether an account accepts a signature. `KnownPublicKeys` answers
from Stark public keys known locally (an account whose signature is plain ECDSA over its key, as the
standard accounts do); a checker that asks the account contract's `is_valid_signature` (SRC-6) on
chain plugs in the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from p2p import stark
from p2p.messages import (
    Assignment,
    Bid,
    JobHeader,
    ScoreReport,
    SignedAssignment,
    SignedBid,
    SignedJobHeader,
    SignedScoreReport,
    SignedStreamReply,
    SignedStreamSession,
    SignedWitnessNotice,
    StreamReply,
    StreamSession,
    WitnessNotice,
)
from p2p.snip12 import message_hash
from p2p.stark import StarkKeyPair


class SignatureChecker(Protocol):
    """Whether `account` accepts `signature` over `message_hash` (SRC-6 semantics)."""

    async def is_valid_signature(
        self, account: int, message_hash: int, signature: Sequence[int]
    ) -> bool: ...


class KnownPublicKeys:
    """Checks signatures against Stark public keys known for each account."""

    def __init__(self, public_keys: Mapping[int, int]) -> None:
        self._public_keys = dict(public_keys)

    async def is_valid_signature(
        self, account: int, message_hash: int, signature: Sequence[int]
    ) -> bool:
        public_key = self._public_keys.get(account)
        return public_key is not None and stark.verify(public_key, message_hash, signature)


def job_hash(header: JobHeader) -> int:
    """The job's identity: the SNIP-12 hash of its header, signed by the delegator."""
    return message_hash(header, header.chain_id, header.delegator)


def bid_hash(bid: Bid, chain_id: int) -> int:
    """The SNIP-12 hash of a bid, signed by its executor."""
    return message_hash(bid, chain_id, bid.executor)


def assignment_hash(assignment: Assignment, chain_id: int, delegator: int) -> int:
    """The SNIP-12 hash of an assignment, signed by the job's delegator."""
    return message_hash(assignment, chain_id, delegator)


def notice_hash(notice: WitnessNotice, chain_id: int) -> int:
    """The SNIP-12 hash of a witness notice, signed by its executor."""
    return message_hash(notice, chain_id, notice.executor)


def session_hash(session: StreamSession, chain_id: int) -> int:
    """The SNIP-12 hash of a streaming session, signed by its executor's account."""
    return message_hash(session, chain_id, session.executor)


def reply_hash(reply: StreamReply, chain_id: int, executor: int) -> int:
    """The SNIP-12 hash of a stream reply, signed by the session key of `executor`'s session."""
    return message_hash(reply, chain_id, executor)


def score_hash(report: ScoreReport, chain_id: int) -> int:
    """The SNIP-12 hash of a score report, signed by its validator's account."""
    return message_hash(report, chain_id, report.validator)


def sign_header(header: JobHeader, key: StarkKeyPair) -> SignedJobHeader:
    return SignedJobHeader(header, key.sign(job_hash(header)))


def sign_bid(bid: Bid, chain_id: int, key: StarkKeyPair) -> SignedBid:
    return SignedBid(bid, key.sign(bid_hash(bid, chain_id)))


def sign_assignment(
    assignment: Assignment, chain_id: int, delegator: int, key: StarkKeyPair
) -> SignedAssignment:
    return SignedAssignment(assignment, key.sign(assignment_hash(assignment, chain_id, delegator)))


def sign_notice(
    notice: WitnessNotice, header: SignedJobHeader, key: StarkKeyPair
) -> SignedWitnessNotice:
    digest = notice_hash(notice, header.header.chain_id)
    return SignedWitnessNotice(header, notice, key.sign(digest))


def sign_session(session: StreamSession, chain_id: int, key: StarkKeyPair) -> SignedStreamSession:
    return SignedStreamSession(session, key.sign(session_hash(session, chain_id)))


def sign_reply(
    reply: StreamReply, chain_id: int, executor: int, session_key: StarkKeyPair
) -> SignedStreamReply:
    return SignedStreamReply(reply, session_key.sign(reply_hash(reply, chain_id, executor)))


def sign_score(report: ScoreReport, chain_id: int, key: StarkKeyPair) -> SignedScoreReport:
    return SignedScoreReport(report, key.sign(score_hash(report, chain_id)))


async def header_is_signed(signed: SignedJobHeader, checker: SignatureChecker) -> bool:
    """Whether the header's delegator signed it."""
    header = signed.header
    return await checker.is_valid_signature(header.delegator, job_hash(header), signed.signature)


async def bid_is_signed(signed: SignedBid, chain_id: int, checker: SignatureChecker) -> bool:
    """Whether the bid's executor signed it for this chain."""
    bid = signed.bid
    return await checker.is_valid_signature(bid.executor, bid_hash(bid, chain_id), signed.signature)


async def assignment_is_signed(
    signed: SignedAssignment, chain_id: int, delegator: int, checker: SignatureChecker
) -> bool:
    """Whether the job's delegator signed the assignment for this chain."""
    digest = assignment_hash(signed.assignment, chain_id, delegator)
    return await checker.is_valid_signature(delegator, digest, signed.signature)


async def session_is_signed(
    signed: SignedStreamSession, chain_id: int, checker: SignatureChecker
) -> bool:
    """Whether the session's executor signed it for this chain."""
    session = signed.session
    digest = session_hash(session, chain_id)
    return await checker.is_valid_signature(session.executor, digest, signed.signature)


def reply_is_signed(signed: SignedStreamReply, chain_id: int, session: StreamSession) -> bool:
    """Whether the session's key signed the reply, and the reply is for the session's job."""
    reply = signed.reply
    if reply.job_hash != session.job_hash:
        return False
    digest = reply_hash(reply, chain_id, session.executor)
    return stark.verify(session.session_key, digest, signed.signature)
