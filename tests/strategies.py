"""Hypothesis strategies for every wire message."""

from __future__ import annotations

import json

from hypothesis import strategies as st

from p2p import limits
from p2p.messages import (
    VERIFICATION_MODES,
    Assignment,
    Bid,
    JobBody,
    JobHeader,
    JobWitness,
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
from p2p.stark import STARK_PRIME

felts = st.integers(0, STARK_PRIME - 1)
u64 = st.integers(0, 2**64 - 1)
u256 = st.integers(0, 2**256 - 1)
digests = st.binary(min_size=32, max_size=32)
signatures = st.lists(felts, max_size=limits.MAX_SIGNATURE_FELTS).map(tuple)
json_objects = st.dictionaries(
    st.text(max_size=8), st.integers(-(2**70), 2**70) | st.text(max_size=8), max_size=6
).map(lambda d: json.dumps(d).encode())
layouts = st.text(
    st.characters(min_codepoint=32, max_codepoint=126), max_size=limits.MAX_LAYOUT_CHARS
)

headers = st.builds(
    JobHeader,
    chain_id=felts,
    registry=felts,
    delegator=felts,
    body_id=digests,
    program_hash=felts,
    max_steps=u64,
    reward=u256,
    deadline=u64,
    nonce=felts,
)
volume_names = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", min_size=1,
    max_size=limits.MAX_VOLUME_NAME_CHARS,
)
input_volumes = st.dictionaries(volume_names, digests, max_size=4).map(
    lambda refs: tuple(sorted(refs.items()))
)
output_volume_names = st.lists(volume_names, max_size=4, unique=True).map(tuple)
bodies = st.builds(JobBody, program=json_objects, program_input=json_objects, layout=layouts,
                   input_volumes=input_volumes, output_volumes=output_volume_names)
bids = st.builds(Bid, job_hash=felts, executor=felts, price=u256, finish_by=u64)
assignments = st.builds(Assignment, job_hash=felts, executor=felts, window_end=u64, attempt=u64)


@st.composite
def witnesses(draw: st.DrawFn) -> JobWitness:
    mode = draw(st.sampled_from(VERIFICATION_MODES))
    proof, proof_id, bits = b"", b"", 0
    if mode != "reexec":
        bits = draw(st.integers(0, 255))
        if draw(st.booleans()):
            proof = draw(st.binary(max_size=256))
        else:
            proof_id = draw(digests)
    output, digest, volumes = tuple(draw(st.lists(felts, max_size=20))), 0, ()
    if draw(st.booleans()):
        names = draw(output_volume_names.filter(bool))
        output, digest, volumes = (), draw(felts), tuple((n, draw(digests)) for n in names)
    return JobWitness(
        job_hash=draw(felts),
        executor=draw(felts),
        output=output,
        output_digest=digest,
        output_volumes=volumes,
        mode=mode,
        security_bits=bits,
        proof=proof,
        proof_id=proof_id,
        run_ms=draw(u64),
        prove_ms=draw(u64),
    )


signed_headers = st.builds(SignedJobHeader, header=headers, signature=signatures)
signed_bids = st.builds(SignedBid, bid=bids, signature=signatures)
signed_assignments = st.builds(SignedAssignment, assignment=assignments, signature=signatures)
notices = st.builds(WitnessNotice, job_hash=felts, executor=felts, witness_id=digests)
signed_notices = st.builds(
    SignedWitnessNotice, header=signed_headers, notice=notices, signature=signatures
)
sessions = st.builds(
    StreamSession, job_hash=felts, executor=felts, session_key=felts, expires_at=u64
)
signed_sessions = st.builds(SignedStreamSession, session=sessions, signature=signatures)
replies = st.builds(
    StreamReply,
    job_hash=felts,
    time_from_ms=u64,
    time_to_ms=u64,
    input_hash=digests,
    output_hash=digests,
)
signed_replies = st.builds(SignedStreamReply, reply=replies, signature=signatures)

@st.composite
def score_reports(draw: st.DrawFn) -> ScoreReport:
    tested = draw(u64)
    return ScoreReport(
        validator=draw(felts), executor=draw(felts), tested=tested,
        correct=draw(st.integers(0, tested)), median_latency_ms=draw(u64),
        score=draw(st.integers(0, 10_000)), issued_at=draw(u64),
    )


signed_score_reports = st.builds(SignedScoreReport, report=score_reports(), signature=signatures)

ALL_MESSAGES = {
    JobBody: bodies,
    JobHeader: headers,
    Bid: bids,
    Assignment: assignments,
    SignedJobHeader: signed_headers,
    SignedBid: signed_bids,
    SignedAssignment: signed_assignments,
    JobWitness: witnesses(),
    WitnessNotice: notices,
    SignedWitnessNotice: signed_notices,
    StreamSession: sessions,
    SignedStreamSession: signed_sessions,
    StreamReply: replies,
    SignedStreamReply: signed_replies,
    ScoreReport: score_reports(),
    SignedScoreReport: signed_score_reports,
}
