"""The job data model: every message the network exchanges (see DESIGN.md, "Data model").

Felts are ints below the Stark prime; addresses are felts; digests are 32-byte SHA-256 values;
times are Unix seconds. Every message is immutable, validated when built, and has one canonical
encoding (`encode()` / `decode()`, from `p2p.codec`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from p2p import limits
from p2p.codec import (
    Blob,
    CodecError,
    Digest,
    FeltList,
    JsonObject,
    Kind,
    Nested,
    Text,
    Uint,
    VolumeNames,
    VolumeRefs,
    WireMessage,
    felt,
    wire,
)

U64 = Uint(64, "u128")
"""A count or a time: an int on the wire, a u128 in SNIP-12."""

U64_TIME = Uint(64, "timestamp")
"""A Unix time in seconds: an int on the wire, a timestamp in SNIP-12."""

U256 = Uint(256, "u256")
"""An amount of the registry's token (u256), as 32 bytes."""

VERIFICATION_MODES = ("stone", "native", "reexec")
"""How a witness's output was established: a Stone proof, a built-in STARK, or re-execution."""


@dataclass(frozen=True)
class JobBody(WireMessage):
    """What to run: a compiled Cairo program, its input and the layout. Lives in the DHT."""

    TYPE = "job_body"
    MAX_BYTES = limits.MAX_BODY_BYTES

    program: bytes = wire(JsonObject(limits.MAX_PROGRAM_BYTES))
    """The compiled program, as cairo-compile writes it (UTF-8 JSON)."""
    program_input: bytes = wire(JsonObject(limits.MAX_PROGRAM_INPUT_BYTES))
    """The program input (UTF-8 JSON object)."""
    layout: str = wire(Text(limits.MAX_LAYOUT_CHARS))
    input_volumes: tuple[tuple[str, bytes], ...] = wire(
        VolumeRefs(limits.MAX_INPUT_VOLUMES, limits.MAX_VOLUME_NAME_CHARS), default=()
    )
    """(name, sha256) of content-addressed JSON values the run needs: each is fetched, checked
    against its hash and given to the program as `program_input[name]`."""
    output_volumes: tuple[str, ...] = wire(
        VolumeNames(limits.MAX_OUTPUT_VOLUMES, limits.MAX_VOLUME_NAME_CHARS), default=()
    )
    """Names of the output volumes, in order: the program's output is then exactly one
    length-prefixed section per name (`n_1, felts_1..., n_2, felts_2...`), each stored as a
    volume, and the job is paid on the output's digest (see node/roles/volumes.py)."""

    @property
    def body_id(self) -> bytes:
        """sha256 of the canonical encoding: the body's DHT key and the header's `body_id`."""
        return body_id(self.encode())


def body_id(encoded_body: bytes) -> bytes:
    """The id of an encoded body: its SHA-256."""
    return hashlib.sha256(encoded_body).digest()


@dataclass(frozen=True)
class JobHeader(WireMessage):
    """The small, signed announcement of a job, gossiped to executors."""

    TYPE = "job_header"
    MAX_BYTES = limits.MAX_SMALL_MESSAGE_BYTES

    chain_id: int = wire(felt("shortstring"))
    registry: int = wire(felt("ContractAddress"))
    delegator: int = wire(felt("ContractAddress"))
    body_id: bytes = wire(Digest())
    program_hash: int = wire(felt())
    max_steps: int = wire(U64)
    reward: int = wire(U256)
    deadline: int = wire(U64_TIME)
    nonce: int = wire(felt())


@dataclass(frozen=True)
class Bid(WireMessage):
    """An executor's offer to run a job for `price` (at most the reward) by `finish_by`."""

    TYPE = "bid"
    MAX_BYTES = limits.MAX_SMALL_MESSAGE_BYTES

    job_hash: int = wire(felt())
    executor: int = wire(felt("ContractAddress"))
    price: int = wire(U256)
    finish_by: int = wire(U64_TIME)


@dataclass(frozen=True)
class Assignment(WireMessage):
    """The delegator's choice: `executor` alone may be paid for the job until `window_end`.

    `attempt` counts re-assignments of the same job (0 for the first).
    """

    TYPE = "assignment"
    MAX_BYTES = limits.MAX_SMALL_MESSAGE_BYTES

    job_hash: int = wire(felt())
    executor: int = wire(felt("ContractAddress"))
    window_end: int = wire(U64_TIME)
    attempt: int = wire(U64)


@dataclass(frozen=True)
class SignedJobHeader(WireMessage):
    """A header with its delegator's account signature (what the jobs topic carries)."""

    TYPE = "signed_job_header"
    MAX_BYTES = limits.MAX_SMALL_MESSAGE_BYTES

    header: JobHeader = wire(Nested(JobHeader))
    signature: tuple[int, ...] = wire(FeltList(limits.MAX_SIGNATURE_FELTS))


@dataclass(frozen=True)
class SignedBid(WireMessage):
    """A bid with its executor's account signature."""

    TYPE = "signed_bid"
    MAX_BYTES = limits.MAX_SMALL_MESSAGE_BYTES

    bid: Bid = wire(Nested(Bid))
    signature: tuple[int, ...] = wire(FeltList(limits.MAX_SIGNATURE_FELTS))


@dataclass(frozen=True)
class SignedAssignment(WireMessage):
    """An assignment with its delegator's account signature."""

    TYPE = "signed_assignment"
    MAX_BYTES = limits.MAX_SMALL_MESSAGE_BYTES

    assignment: Assignment = wire(Nested(Assignment))
    signature: tuple[int, ...] = wire(FeltList(limits.MAX_SIGNATURE_FELTS))


@dataclass(frozen=True)
class WitnessNotice(WireMessage):
    """An executor's announcement that the witness of a job is in the DHT under `witness_id`."""

    TYPE = "witness_notice"
    MAX_BYTES = limits.MAX_SMALL_MESSAGE_BYTES

    job_hash: int = wire(felt())
    executor: int = wire(felt("ContractAddress"))
    witness_id: bytes = wire(Digest())
    """sha256 of the encoded JobWitness: its DHT key."""


@dataclass(frozen=True)
class SignedWitnessNotice(WireMessage):
    """A witness notice signed by its executor, with the job's signed header (the done topic)."""

    TYPE = "signed_witness_notice"
    MAX_BYTES = limits.MAX_SMALL_MESSAGE_BYTES

    header: SignedJobHeader = wire(Nested(SignedJobHeader))
    notice: WitnessNotice = wire(Nested(WitnessNotice))
    signature: tuple[int, ...] = wire(FeltList(limits.MAX_SIGNATURE_FELTS))


@dataclass(frozen=True)
class StreamSession(WireMessage):
    """An executor's streaming session for a job: its replies are signed by `session_key`.

    The session key is a fresh Stark key pair made for this job alone; the executor's account
    signs this announcement, which binds the key to the executor until `expires_at`.
    """

    TYPE = "stream_session"
    MAX_BYTES = limits.MAX_SMALL_MESSAGE_BYTES

    job_hash: int = wire(felt())
    executor: int = wire(felt("ContractAddress"))
    session_key: int = wire(felt())
    """The Stark public key (x coordinate) that signs the session's replies."""
    expires_at: int = wire(U64_TIME)


@dataclass(frozen=True)
class SignedStreamSession(WireMessage):
    """A streaming session with its executor's account signature."""

    TYPE = "signed_stream_session"
    MAX_BYTES = limits.MAX_SMALL_MESSAGE_BYTES

    session: StreamSession = wire(Nested(StreamSession))
    signature: tuple[int, ...] = wire(FeltList(limits.MAX_SIGNATURE_FELTS))


@dataclass(frozen=True)
class StreamReply(WireMessage):
    """What a streaming executor vouches for with one reply.

    Times are Unix milliseconds: when the request was received and when the reply was ready.
    The hashes are `felts_digest` of the request's input felts and of the reply's output felts.
    """

    TYPE = "stream_reply"
    MAX_BYTES = limits.MAX_SMALL_MESSAGE_BYTES

    job_hash: int = wire(felt())
    time_from_ms: int = wire(U64)
    time_to_ms: int = wire(U64)
    input_hash: bytes = wire(Digest())
    output_hash: bytes = wire(Digest())


@dataclass(frozen=True)
class SignedStreamReply(WireMessage):
    """A reply's statement with the session key's signature `(r, s)`."""

    TYPE = "signed_stream_reply"
    MAX_BYTES = limits.MAX_SMALL_MESSAGE_BYTES

    reply: StreamReply = wire(Nested(StreamReply))
    signature: tuple[int, ...] = wire(FeltList(limits.MAX_SIGNATURE_FELTS))


def felts_digest(felts: Sequence[int]) -> bytes:
    """sha256 of felts written as 32-byte big-endian words, one after the other.

    The hash a stream reply signs over a request's input and its output (a contract can
    recompute it from the felts).
    """
    return hashlib.sha256(b"".join(value.to_bytes(32, "big") for value in felts)).digest()


MAX_SCORE = 10_000
"""Scores are in basis points: 0 (useless) .. 10 000 (always right, instantly)."""


@dataclass(frozen=True)
class ScoreReport(WireMessage):
    """A validator's published score of an executor, from the synthetic jobs it sent it."""

    TYPE = "score_report"
    MAX_BYTES = limits.MAX_SMALL_MESSAGE_BYTES

    validator: int = wire(felt("ContractAddress"))
    executor: int = wire(felt("ContractAddress"))
    tested: int = wire(U64)
    """Synthetic jobs sent to the executor."""
    correct: int = wire(U64)
    """Of those, paid with the known answer."""
    median_latency_ms: int = wire(U64)
    """From assignment to payment, over the recent correct ones (0 when there is none)."""
    score: int = wire(U64)
    """In basis points, at most MAX_SCORE."""
    issued_at: int = wire(U64_TIME)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.score > MAX_SCORE:
            raise CodecError(f"{self.TYPE}.score", f"at most {MAX_SCORE} basis points")
        if self.correct > self.tested:
            raise CodecError(f"{self.TYPE}.correct", "more correct jobs than tested ones")


@dataclass(frozen=True)
class SignedScoreReport(WireMessage):
    """A score report with its validator's account signature (the scores topic)."""

    TYPE = "signed_score_report"
    MAX_BYTES = limits.MAX_SMALL_MESSAGE_BYTES

    report: ScoreReport = wire(Nested(ScoreReport))
    signature: tuple[int, ...] = wire(FeltList(limits.MAX_SIGNATURE_FELTS))


class VerificationMode(Text):
    """One of VERIFICATION_MODES."""

    def check(self, value: object, field: str) -> None:
        super().check(value, field)
        if value not in VERIFICATION_MODES:
            raise CodecError(field, f"expected one of {', '.join(VERIFICATION_MODES)}")


@dataclass(frozen=True)
class JobWitness(WireMessage):
    """What an executor produced: the output and how it was established.

    The proof travels inline (`proof`) or by reference to a DHT record (`proof_id`), not both;
    a re-execution witness carries neither and 0 security bits. A job with output volumes has
    its output off chain: `output` is empty, `output_digest` is `poseidon(output)` and
    `output_volumes` names each section's volume, in the body's order; otherwise both are empty.
    """

    TYPE = "job_witness"
    MAX_BYTES = limits.MAX_WITNESS_BYTES

    job_hash: int = wire(felt())
    executor: int = wire(felt("ContractAddress"))
    output: tuple[int, ...] = wire(FeltList(limits.MAX_OUTPUT_FELTS))
    mode: str = wire(VerificationMode(limits.MAX_MODE_CHARS))
    security_bits: int = wire(Uint(8, None))
    proof: bytes = wire(Blob(limits.MAX_PROOF_BYTES))
    proof_id: bytes = wire(Digest(optional=True))
    run_ms: int = wire(U64)
    prove_ms: int = wire(U64)
    output_digest: int = wire(felt(), default=0)
    """poseidon(output) when the output is in volumes, else 0."""
    output_volumes: tuple[tuple[str, bytes], ...] = wire(
        VolumeRefs(limits.MAX_OUTPUT_VOLUMES, limits.MAX_VOLUME_NAME_CHARS, sorted_names=False),
        default=(),
    )
    """(name, sha256 of the volume's bytes) of each output section, in the body's order."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.output_volumes and self.output:
            raise CodecError(f"{self.TYPE}.output", "an output in volumes is not carried inline")
        if not self.output_volumes and self.output_digest:
            raise CodecError(f"{self.TYPE}.output_digest", "only an output in volumes has one")
        if self.proof and self.proof_id:
            raise CodecError(f"{self.TYPE}.proof_id", "a proof travels inline or by id, not both")
        if self.mode == "reexec" and (self.proof or self.proof_id or self.security_bits):
            raise CodecError(f"{self.TYPE}.mode", "a re-execution witness has no proof and 0 bits")


class OptionalReply(Kind):
    """A SignedStreamReply, or None (nil on the wire)."""

    def __init__(self) -> None:
        self.reply = Nested(SignedStreamReply)

    def check(self, value: object, field: str) -> None:
        if value is not None:
            self.reply.check(value, field)

    def to_wire(self, value: SignedStreamReply | None) -> dict[str, Any] | None:
        return None if value is None else self.reply.to_wire(value)

    def from_wire(self, raw: Any, field: str) -> SignedStreamReply | None:
        return None if raw is None else self.reply.from_wire(raw, field)


@dataclass(frozen=True)
class CheatReport(WireMessage):
    """Evidence that a streaming executor lied, which anyone can check (and the Registry slashes).

    Either a reply contradicted by the truth: `fact_output` is the output of a streaming run of
    the job's program, `[n, input (n felts), output...]`, registered as a fact, whose input digest
    is the reply's and whose output digest is not (`other_reply` is None); or the executor
    contradicting itself: `other_reply`, a second reply of the same session for the same input
    with another output (`fact_output` is empty).
    """

    TYPE = "cheat_report"
    MAX_BYTES = 4 * limits.MAX_SMALL_MESSAGE_BYTES + limits.MAX_OUTPUT_FELTS * 34

    header: SignedJobHeader = wire(Nested(SignedJobHeader))
    session: SignedStreamSession = wire(Nested(SignedStreamSession))
    reply: SignedStreamReply = wire(Nested(SignedStreamReply))
    fact_output: tuple[int, ...] = wire(FeltList(limits.MAX_OUTPUT_FELTS))
    other_reply: SignedStreamReply | None = wire(OptionalReply())

    def __post_init__(self) -> None:
        super().__post_init__()
        if bool(self.fact_output) == (self.other_reply is not None):
            raise CodecError(
                f"{self.TYPE}.other_reply",
                "a report carries either a fact output or a second reply, exactly one",
            )
