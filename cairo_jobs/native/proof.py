"""The proof: its parts, its byte format (msgpack arrays; see docs/NATIVE_PROVER.md) and the
statement's transcript seed.

Field elements travel as 32-byte big-endian canonical integers (< p), hashes as 32 bytes.
Decoding checks every type, length and range, so that any malformed proof is refused with
ProofFormatError before verification starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import msgpack

from cairo_jobs.native.air import Air
from cairo_jobs.native.field import P, felts_to_bytes
from cairo_jobs.native.fri import FriProof, Opening
from cairo_jobs.native.merkle import DIGEST_SIZE
from cairo_jobs.native.parameters import Parameters

VERSION = 1
MAX_PROOF_BYTES = 64 * 1024 * 1024
OFFSET = 3  # the evaluation domain is the coset 3·<w_N>, disjoint from the trace domain

X = TypeVar("X")


class ProofFormatError(ValueError):
    """The bytes are not a well-formed proof."""


@dataclass(frozen=True)
class RowOpening:
    """A committed table's rows at x and −x (positions q and q + N/2) with their paths."""

    rows: tuple[list[int], list[int]]
    paths: tuple[list[bytes], list[bytes]]


@dataclass(frozen=True)
class StarkProof:
    """Each query opens every committed table: the trace, the interaction columns (when the AIR
    has them), then the composition parts."""

    parameters: Parameters
    log_trace_length: int
    trace_roots: list[bytes]
    composition_root: bytes
    trace_at_z: list[int]
    trace_at_gz: list[int]
    composition_at_z: list[int]
    fri: FriProof
    queries: list[list[RowOpening]]


def transcript_seed(air: Air, params: Parameters, log_trace_length: int) -> bytes:
    """What the channel starts from: the format, the AIR's name and public input, parameters."""
    numbers = [*params.as_list(), log_trace_length, *air.public_input()]
    return b"native-stark/1 " + air.name.encode() + felts_to_bytes(v % P for v in numbers)


def encode(proof: StarkProof) -> bytes:
    """The proof's bytes."""
    return msgpack.packb(
        [
            VERSION,
            proof.parameters.as_list(),
            proof.log_trace_length,
            proof.trace_roots,
            proof.composition_root,
            _felt_bytes(proof.trace_at_z),
            _felt_bytes(proof.trace_at_gz),
            _felt_bytes(proof.composition_at_z),
            [
                proof.fri.roots,
                _felt_bytes(proof.fri.last_layer),
                proof.fri.nonce,
                [
                    [[*_felt_bytes(list(o.pair)), o.path] for o in layer]
                    for layer in proof.fri.openings
                ],
            ],
            [[_rows(table) for table in query] for query in proof.queries],
        ]
    )


def decode(data: bytes) -> StarkProof:
    """The proof in `data`; raises ProofFormatError naming what is wrong."""
    if not isinstance(data, bytes) or len(data) > MAX_PROOF_BYTES:
        raise ProofFormatError(f"a proof is at most {MAX_PROOF_BYTES} bytes of data")
    try:
        fields = msgpack.unpackb(data, use_list=True, raw=False, strict_map_key=True)
    except (ValueError, TypeError, msgpack.UnpackException) as err:
        raise ProofFormatError(f"not msgpack: {err}") from None
    fields = _list(fields, 10, "proof")
    if type(fields[0]) is not int or fields[0] != VERSION:
        raise ProofFormatError(f"unknown proof version {fields[0]!r} (this reads {VERSION})")
    try:
        parameters = Parameters(*_list(fields[1], 4, "parameters"))
    except (TypeError, ValueError) as err:
        raise ProofFormatError(f"bad parameters: {err}") from None
    fri_fields = _list(fields[8], 4, "fri")
    return StarkProof(
        parameters=parameters,
        log_trace_length=_int(fields[2], 1, 40, "log_trace_length"),
        trace_roots=_each(fields[3], _digest),
        composition_root=_digest(fields[4]),
        trace_at_z=_felts(fields[5]),
        trace_at_gz=_felts(fields[6]),
        composition_at_z=_felts(fields[7]),
        fri=FriProof(
            roots=_each(fri_fields[0], _digest),
            last_layer=_felts(fri_fields[1]),
            nonce=_int(fri_fields[2], 0, 2**64 - 1, "nonce"),
            openings=_each(fri_fields[3], lambda layer: _each(layer, _fri_opening)),
        ),
        queries=_each(fields[9], _query),
    )


def _felt_bytes(values: list[int]) -> list[bytes]:
    return [v.to_bytes(32, "big") for v in values]


def _rows(opening: RowOpening) -> list[Any]:
    return [_felt_bytes(opening.rows[0]), _felt_bytes(opening.rows[1]), *opening.paths]


def _list(value: Any, length: int, what: str) -> list[Any]:
    if not isinstance(value, list) or len(value) != length:
        raise ProofFormatError(f"{what} must be a list of {length} items")
    return value


def _each(value: Any, parse: Callable[[Any], X]) -> list[X]:
    if not isinstance(value, list):
        raise ProofFormatError(f"expected a list, got {type(value).__name__}")
    return [parse(item) for item in value]


def _int(value: Any, low: int, high: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ProofFormatError(f"{what} must be an integer in {low}..{high}")
    return value


def _felt(value: Any) -> int:
    if not isinstance(value, bytes) or len(value) != 32:
        raise ProofFormatError("a field element must be 32 bytes")
    number = int.from_bytes(value, "big")
    if number >= P:
        raise ProofFormatError("a field element is not below the Stark prime")
    return number


def _felts(value: Any) -> list[int]:
    return _each(value, _felt)


def _digest(value: Any) -> bytes:
    if not isinstance(value, bytes) or len(value) != DIGEST_SIZE:
        raise ProofFormatError(f"a hash must be {DIGEST_SIZE} bytes")
    return value


def _fri_opening(value: Any) -> Opening:
    low, high, path = _list(value, 3, "FRI opening")
    return Opening((_felt(low), _felt(high)), _each(path, _digest))


def _row_opening(value: Any) -> RowOpening:
    low, high, low_path, high_path = _list(value, 4, "row opening")
    return RowOpening(
        (_felts(low), _felts(high)), (_each(low_path, _digest), _each(high_path, _digest))
    )


def _query(value: Any) -> list[RowOpening]:
    return _each(value, _row_opening)
