"""The standalone STARK verifier: replays the transcript, checks H at z, the openings and FRI."""

from __future__ import annotations

from cairo_jobs.native import composition, field, fri
from cairo_jobs.native.air import Air
from cairo_jobs.native.channel import Channel
from cairo_jobs.native.field import P
from cairo_jobs.native.merkle import verify_path
from cairo_jobs.native.proof import (
    OFFSET,
    ProofFormatError,
    RowOpening,
    StarkProof,
    decode,
    transcript_seed,
)


class VerificationError(ValueError):
    """The proof does not prove the statement; the message says which check failed."""


def verify(air: Air, data: bytes) -> int:
    """Checks that `data` proves `air`; returns the conjectured security bits, else raises."""
    try:
        proof = decode(data)
        return _verify(air, proof)
    except (ProofFormatError, fri.FriError) as err:
        raise VerificationError(str(err)) from None
    except ZeroDivisionError:  # z or a query landed on a pole: only for a forged transcript
        raise VerificationError("a sampled point falls on the trace domain") from None


def _verify(air: Air, proof: StarkProof) -> int:
    params = proof.parameters
    if proof.log_trace_length != air.log_trace_length:
        raise VerificationError("the proof is for a trace of another length")
    log_size = air.log_trace_length + params.log_blowup
    widths = [air.n_columns] + ([air.n_interaction_columns] if air.n_interaction_columns else [])
    _check_lengths(air, proof, widths)
    channel = Channel(transcript_seed(air, params, proof.log_trace_length))
    channel.absorb(proof.trace_roots[0])
    challenges = [channel.draw_felt() for _ in range(air.n_challenges)]
    for root in proof.trace_roots[1:]:
        channel.absorb(root)
    coefficients = [channel.draw_felt() for _ in range(composition.n_constraints(air))]
    channel.absorb(proof.composition_root)
    z = channel.draw_felt()
    out_of_domain = (proof.trace_at_z, proof.trace_at_gz, proof.composition_at_z)
    channel.absorb_felts([v for values in out_of_domain for v in values])
    if not composition.matches_at(air, out_of_domain, challenges, coefficients, z):
        raise VerificationError("the composition polynomial does not match the trace at z")
    deep_coefficients = [
        channel.draw_felt() for _ in range(2 * sum(widths) + len(proof.composition_at_z))
    ]
    roots = [*proof.trace_roots, proof.composition_root]
    widths.append(len(proof.composition_at_z))
    w = field.root_of_unity(log_size)
    g_z = z * field.root_of_unity(air.log_trace_length) % P
    half = 1 << (log_size - 1)

    def first_layer(queries: list[int]) -> list[fri.Pair]:
        if len(queries) != len(proof.queries):
            raise VerificationError(f"expected {len(queries)} query openings")
        pairs = []
        for q, tables in zip(queries, proof.queries, strict=True):
            if len(tables) != len(roots):
                raise VerificationError(f"a query must open {len(roots)} tables")
            for root, table, width in zip(roots, tables, widths, strict=True):
                _check_opening(root, table, q, half, width)
            x = OFFSET * pow(w, q, P) % P
            pair = []
            for side, point in enumerate((x, P - x)):
                cells = [v for table in tables[:-1] for v in table.rows[side]]
                value = composition.deep(
                    cells,
                    tables[-1].rows[side],
                    out_of_domain,
                    deep_coefficients,
                    pow(point - z, -1, P),
                    pow(point - g_z, -1, P),
                )
                pair.append(value % P)
            pairs.append((pair[0], pair[1]))
        return pairs

    fri.verify(channel, proof.fri, log_size, OFFSET, params, first_layer)
    return params.security_bits(log_size)


def _check_lengths(air: Air, proof: StarkProof, widths: list[int]) -> None:
    n_parts = composition.n_parts(air)
    for name, found, expected in (
        ("trace commitments", len(proof.trace_roots), len(widths)),
        ("trace values at z", len(proof.trace_at_z), sum(widths)),
        ("trace values at g·z", len(proof.trace_at_gz), sum(widths)),
        ("composition values at z", len(proof.composition_at_z), n_parts),
    ):
        if found != expected:
            raise VerificationError(f"expected {expected} {name}, got {found}")
    if n_parts > 1 << proof.parameters.log_blowup:
        raise VerificationError(f"the blowup is below the {n_parts} composition parts")


def _check_opening(root: bytes, opening: RowOpening, q: int, half: int, width: int) -> None:
    for side in (0, 1):
        row = opening.rows[side]
        if len(row) != width:
            raise VerificationError(f"an opened row must have {width} values")
        leaf = field.felts_to_bytes(row)
        if not verify_path(root, 2 * half, q + side * half, leaf, opening.paths[side]):
            raise VerificationError(f"an opening at query position {q} is wrong")
