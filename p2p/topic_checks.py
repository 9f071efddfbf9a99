"""The gossip validators of the job topics: decode and check every message before it is forwarded.

Each returns a `TopicValidator` for `p2p.gossip.Gossip`. A message that can never be valid
(undecodable, wrong chain or registry, bad signature) is rejected, which costs the forwarding
peer score; one that cannot be judged here (an account whose public key is not known yet, a bid
for a job this node has not seen) is ignored without blame. So is an expired header: it is
dropped and counted, never forwarded, but expiry depends on when it arrives, and an honest peer
hands out messages it accepted earlier (gossip IHAVE/IWANT, a slow link), so blaming it would
cut honest peers off (the usual practice for time-bound gossip, e.g. Ethereum's IGNORE rules).

Signatures are checked against Stark public keys looked up synchronously (`PublicKeys`), since
gossip validation must not wait on the chain; the roles fill that lookup from the accounts'
on-chain keys. The costly parts of a check, the SNIP-12 job hash (~0.3 ms) and the ECDSA
verification (~0.7 ms), are remembered for the last `CHECK_CACHE` headers and signatures: a
re-published header (a new gossip message with the same bytes), a witness notice quoting a
header, a second copy of a forged one are hashed and verified once (a bad signature stays bad:
every copy is still rejected).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from libp2p.peer.id import ID

from p2p import stark
from p2p.codec import CodecError
from p2p.messages import (
    JobHeader,
    SignedAssignment,
    SignedBid,
    SignedJobHeader,
    SignedScoreReport,
    SignedWitnessNotice,
)
from p2p.signing import assignment_hash, bid_hash, job_hash, notice_hash, score_hash
from p2p.validation import Outcome, TopicValidator, Verdict

PublicKeys = Callable[[int], "int | None"]
"""An account address -> its Stark public key, or None when not known (yet)."""

KnownHeaders = Callable[[int], "JobHeader | None"]
"""A job hash -> the header this node accepted for it, or None."""

EXPIRY_GRACE_S = 30.0
"""A header this little past its deadline is ignored (clock skew, propagation), not rejected."""

SCORE_MAX_AGE_S = 3600.0
"""A score report older than this is ignored (scores move; an old one says little)."""

CLOCK_SKEW_S = 60.0
"""A score report issued further in the future than this is rejected."""

CHECK_CACHE = 4096
"""Job hashes and signature checks remembered (a few hundred bytes each)."""


@dataclass(frozen=True)
class NetworkContext:
    """What every message must agree with: this network's chain and registry, and the clock."""

    chain_id: int
    registry: int
    clock: Callable[[], float] = field(default=time.time)


def header_validator(context: NetworkContext, public_keys: PublicKeys) -> TopicValidator:
    """Checks a SignedJobHeader: encoding, chain, registry, deadline, delegator's signature."""

    def validate(data: bytes, origin: ID) -> Verdict:
        try:
            signed = SignedJobHeader.decode(data)
        except CodecError:
            return Verdict.reject("undecodable header")
        header = signed.header
        if header.chain_id != context.chain_id:
            return Verdict.reject("wrong chain")
        if header.registry != context.registry:
            return Verdict.reject("wrong registry")
        late = context.clock() - header.deadline
        if late > 0:  # time-dependent: never blamed on the peer (see the module docstring)
            return Verdict.ignore("expired" if late > EXPIRY_GRACE_S else "deadline just passed")
        digest = _job_hash(header)
        verdict = _signature_verdict(public_keys, header.delegator, digest, signed.signature)
        if verdict.outcome is Outcome.ACCEPT:  # not worth sending once its deadline has passed
            return Verdict.accept(expires_at=header.deadline)
        return verdict

    return validate


def bid_validator(context: NetworkContext, public_keys: PublicKeys) -> TopicValidator:
    """Checks a SignedBid: encoding and the executor's signature for this chain."""

    def validate(data: bytes, origin: ID) -> Verdict:
        try:
            signed = SignedBid.decode(data)
        except CodecError:
            return Verdict.reject("undecodable bid")
        bid = signed.bid
        digest = bid_hash(bid, context.chain_id)
        return _signature_verdict(public_keys, bid.executor, digest, signed.signature)

    return validate


def assignment_validator(
    context: NetworkContext, public_keys: PublicKeys, headers: KnownHeaders
) -> TopicValidator:
    """Checks a SignedAssignment: encoding, a known job, and its delegator's signature."""

    def validate(data: bytes, origin: ID) -> Verdict:
        try:
            signed = SignedAssignment.decode(data)
        except CodecError:
            return Verdict.reject("undecodable assignment")
        header = headers(signed.assignment.job_hash)
        if header is None:
            return Verdict.ignore("assignment for an unknown job")
        digest = assignment_hash(signed.assignment, context.chain_id, header.delegator)
        return _signature_verdict(public_keys, header.delegator, digest, signed.signature)

    return validate


def notice_validator(context: NetworkContext, public_keys: PublicKeys) -> TopicValidator:
    """Checks a SignedWitnessNotice: its job's header as on the jobs topic, and the executor's
    signature over a notice for that very job."""
    check_header = header_validator(context, public_keys)

    def validate(data: bytes, origin: ID) -> Verdict:
        try:
            signed = SignedWitnessNotice.decode(data)
        except CodecError:
            return Verdict.reject("undecodable witness notice")
        header_verdict = check_header(signed.header.encode(), origin)
        if header_verdict.outcome is not Outcome.ACCEPT:
            return header_verdict
        notice = signed.notice
        if notice.job_hash != _job_hash(signed.header.header):
            return Verdict.reject("notice for another job")
        digest = notice_hash(notice, context.chain_id)
        return _signature_verdict(public_keys, notice.executor, digest, signed.signature)

    return validate


def score_validator(context: NetworkContext, public_keys: PublicKeys) -> TopicValidator:
    """Checks a SignedScoreReport: encoding, issue time, and the validator's signature.

    Whether the signer is a validator worth listening to is the reader's decision (the
    delegator trusts the FactRegistry's verifiers), not the forwarding node's.
    """

    def validate(data: bytes, origin: ID) -> Verdict:
        try:
            signed = SignedScoreReport.decode(data)
        except CodecError:
            return Verdict.reject("undecodable score report")
        report = signed.report
        age = context.clock() - report.issued_at
        if age < -CLOCK_SKEW_S:
            return Verdict.reject("score report from the future")
        if age > SCORE_MAX_AGE_S:
            return Verdict.ignore("stale score report")
        digest = score_hash(report, context.chain_id)
        return _signature_verdict(public_keys, report.validator, digest, signed.signature)

    return validate


def _signature_verdict(
    public_keys: PublicKeys, account: int, digest: int, signature: tuple[int, ...]
) -> Verdict:
    public_key = public_keys(account)
    if public_key is None:
        return Verdict.ignore("signer's public key not known")
    if not _signature_holds(public_key, digest, tuple(signature)):
        return Verdict.reject("bad signature")
    return Verdict.accept()


@functools.lru_cache(maxsize=CHECK_CACHE)
def _job_hash(header: JobHeader) -> int:
    return job_hash(header)


@functools.lru_cache(maxsize=CHECK_CACHE)
def _signature_holds(public_key: int, digest: int, signature: tuple[int, ...]) -> bool:
    return stark.verify(public_key, digest, signature)
