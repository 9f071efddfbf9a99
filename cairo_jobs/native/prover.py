"""The STARK prover: trace → low-degree extension → composition → DEEP → FRI → openings."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np

from cairo_jobs.native import composition, field, fri, ntt
from cairo_jobs.native.air import Air
from cairo_jobs.native.channel import Channel
from cairo_jobs.native.field import P
from cairo_jobs.native.formula import Recorder
from cairo_jobs.native.merkle import MerkleTree
from cairo_jobs.native.parameters import Parameters
from cairo_jobs.native.proof import OFFSET, RowOpening, StarkProof, encode, transcript_seed

log = logging.getLogger("cairo_jobs.native.prover")


class UnsatisfiedTrace(ValueError):
    """The trace does not satisfy the AIR, so no proof can be made."""


class _Table:
    """Columns committed together: coefficients, values on the evaluation domain, Merkle tree."""

    def __init__(self, coefficients: list[np.ndarray], domain_size: int) -> None:
        self.coefficients = coefficients
        self.values = [ntt.extend(c, domain_size, OFFSET) for c in coefficients]
        self.tree = MerkleTree.of_columns(self.values)

    def open(self, position: int, half: int) -> RowOpening:
        positions = (position, position + half)
        rows = [field.to_ints(np.stack([v[p] for v in self.values])) for p in positions]
        paths = (self.tree.path(positions[0]), self.tree.path(positions[1]))
        return RowOpening((rows[0], rows[1]), paths)


def prove(air: Air, trace: Sequence[Sequence[int]], params: Parameters | None = None) -> bytes:
    """A proof that `trace` satisfies `air`; raises UnsatisfiedTrace when it does not."""
    params = params or Parameters()
    started = time.perf_counter()
    n = 1 << air.log_trace_length
    _check_shape(trace, air.n_columns, n, "trace")
    log_size = air.log_trace_length + params.log_blowup
    size = 1 << log_size
    if composition.n_parts(air) > 1 << params.log_blowup:
        raise ValueError(
            f"the {air.name} AIR's constraint degree needs a blowup of at least "
            f"{composition.n_parts(air)}; raise log_blowup"
        )
    channel = Channel(transcript_seed(air, params, air.log_trace_length))
    tables = [_commit(channel, trace, size)]
    challenges = [channel.draw_felt() for _ in range(air.n_challenges)]
    if air.n_interaction_columns:
        interaction = air.interaction(trace, challenges)
        _check_shape(interaction, air.n_interaction_columns, n, "interaction")
        tables.append(_commit(channel, interaction, size))
    columns = [c for table in tables for c in table.coefficients]
    values = [v for table in tables for v in table.values]
    coefficients = [channel.draw_felt() for _ in range(composition.n_constraints(air))]
    xs = field.powers(field.root_of_unity(log_size), size, start=OFFSET)
    parts = _Table(_composition_parts(air, xs, values, challenges, coefficients), size)
    channel.absorb(parts.tree.root)
    z = channel.draw_felt()
    g_z = z * field.root_of_unity(air.log_trace_length) % P
    out_of_domain = (
        [ntt.evaluate_at(c, z) for c in columns],
        [ntt.evaluate_at(c, g_z) for c in columns],
        [ntt.evaluate_at(c, z) for c in parts.coefficients],
    )
    require_low_degree(air, out_of_domain, challenges, coefficients, z)
    channel.absorb_felts([v for values in out_of_domain for v in values])
    deep_coefficients = [channel.draw_felt() for _ in range(2 * len(columns) + len(parts.values))]
    deep = _deep(columns, parts.coefficients, out_of_domain, deep_coefficients, xs, (z, g_z))
    fri_proof, queries = fri.prove(channel, deep, OFFSET, params)
    half = size // 2
    proof = StarkProof(
        parameters=params,
        log_trace_length=air.log_trace_length,
        trace_roots=[table.tree.root for table in tables],
        composition_root=parts.tree.root,
        trace_at_z=out_of_domain[0],
        trace_at_gz=out_of_domain[1],
        composition_at_z=out_of_domain[2],
        fri=fri_proof,
        queries=[[table.open(q, half) for table in (*tables, parts)] for q in queries],
    )
    data = encode(proof)
    log.info(
        "proved",
        extra={
            "air": air.name,
            "log_trace_length": air.log_trace_length,
            "seconds": round(time.perf_counter() - started, 3),
            "proof_bytes": len(data),
            "security_bits": params.security_bits(log_size),
        },
    )
    return data


def _commit(
    channel: Channel, columns: Sequence[Sequence[int] | np.ndarray], size: int
) -> _Table:
    """Interpolates, extends and commits columns (ints or field arrays); the channel absorbs
    the root."""
    arrays = [c if isinstance(c, np.ndarray) else field.from_ints(c) for c in columns]
    table = _Table([ntt.interpolate(array) for array in arrays], size)
    channel.absorb(table.tree.root)
    return table


def _check_shape(
    columns: Sequence[Sequence[int] | np.ndarray], width: int, n: int, what: str
) -> None:
    if len(columns) != width or any(len(column) != n for column in columns):
        raise ValueError(f"the {what} must have {width} columns of {n} rows")


def _composition_parts(
    air: Air,
    xs: np.ndarray,
    values: list[np.ndarray],
    challenges: list[int],
    coefficients: list[int],
) -> list[np.ndarray]:
    """H's coefficients split into parts of n.

    `xs` are the evaluation domain's points, `values` the columns there. H has degree
    < n_parts·n when the trace satisfies the constraints, so it is evaluated on the sub-coset
    of n_parts·n points (every `stride`-th point of the domain) and interpolated there; when
    the trace does not, that interpolant differs from H and `require_low_degree` sees it at z.
    """
    n = 1 << air.log_trace_length
    n_parts = composition.n_parts(air)
    stride = xs.shape[0] // (n_parts * n)
    size = xs.shape[0] // stride
    recorder = Recorder()
    current = [recorder.input(stride) for _ in values]
    following = [recorder.input(stride, xs.shape[0] // n) for _ in values]
    x = recorder.input(stride)
    every_row_divisor = recorder.input()  # 1/(xⁿ − 1), periodic
    last_row = pow(field.root_of_unity(air.log_trace_length), n - 1, P)
    rows = sorted(composition.constrained_rows(air))
    row_divisors = {row: recorder.input() for row in rows}
    periodic = _periodic_on(air, size)
    current += [recorder.input() for _ in periodic]
    following += [recorder.input(1, size // n) for _ in periodic]
    h = composition.composition(
        air,
        (current, following),
        challenges,
        coefficients,
        (every_row_divisor * (x - last_row), every_row_divisor, row_divisors),
    )
    arrays = [*values, *values, xs, _inverse_vanishing(n, size)]
    points = xs[::stride]
    g = field.root_of_unity(air.log_trace_length)
    for row in rows:
        arrays.append(field.batch_inverse(field.sub(points, field.from_ints([pow(g, row, P)]))))
    arrays += [*periodic, *periodic]
    h_values = recorder.program(h).evaluate(arrays, size)
    h = ntt.interpolate(h_values, OFFSET)
    return [h[k * n : (k + 1) * n] for k in range(n_parts)]


def _periodic_on(air: Air, size: int) -> list[np.ndarray]:
    """The periodic columns on `size` points of the evaluation domain's coset: p(x^(n/P)) takes
    size·P/n distinct values there, repeating; the row after x (x·g) is that many / P further."""
    n = 1 << air.log_trace_length
    arrays = []
    for coefficients in composition.periodic_coefficients(air):
        exponent = n // coefficients.shape[0]
        arrays.append(ntt.extend(coefficients, size // exponent, pow(OFFSET, exponent, P)))
    return arrays


def _inverse_vanishing(n: int, size: int) -> np.ndarray:
    """1/(xⁿ − 1) on `size` points of the evaluation domain's coset: xⁿ repeats with period
    size/n, so this is one period."""
    blowup = size // n
    w = field.root_of_unity(ntt.log2_exact(size))
    period = field.powers(pow(w, n, P), blowup, start=pow(OFFSET, n, P))
    return field.batch_inverse(field.sub(period, field.from_ints([1])))


def _deep(
    columns: list[np.ndarray],
    parts: list[np.ndarray],
    out_of_domain: tuple[list[int], list[int], list[int]],
    coefficients: list[int],
    xs: np.ndarray,
    points: tuple[int, int],
) -> np.ndarray:
    """FRI's layer 0, the DEEP combination, on the evaluation domain `xs`.

    Its numerators over x − z and x − g·z are linear combinations A and B of the columns, so
    they are combined on the n coefficients of each column (given here) rather than on the N
    points, extended once each, and the combination is then DEEP(A, B) with unit weights.
    """
    size = xs.shape[0]
    zeros = ([0] * len(columns), [0] * len(columns), [0] * len(parts))
    numerators = []
    for unit in ((1, 0), (0, 1)):  # A, then B, from the DEEP formula itself
        recorder = Recorder()
        inputs = [recorder.input() for _ in (*columns, *parts)]
        combined = composition.deep(
            inputs[: len(columns)], inputs[len(columns) :], zeros, coefficients, *unit
        )
        sums = recorder.program(combined).evaluate([*columns, *parts], columns[0].shape[0])
        numerators.append(ntt.extend(sums, size, OFFSET))
    trace_z, trace_gz, parts_z = out_of_domain
    a_z = composition.deep(trace_z, parts_z, zeros, coefficients, 1, 0) % P
    b_gz = composition.deep(trace_gz, parts_z, zeros, coefficients, 0, 1) % P
    recorder = Recorder()
    a, b, divisor_z, divisor_gz = (recorder.input() for _ in range(4))
    deep = composition.deep(
        [a, b], [], ([a_z, 0], [0, b_gz], []), [1, 0, 0, 1], divisor_z, divisor_gz
    )
    inverses = [field.batch_inverse(field.sub(xs, field.from_ints([point]))) for point in points]
    return recorder.program(deep).evaluate([*numerators, *inverses], size)


def require_low_degree(
    air: Air,
    out_of_domain: tuple[list[int], list[int], list[int]],
    challenges: list[int],
    coefficients: list[int],
    z: int,
) -> None:
    """The verifier's check at z: H interpolated from n_parts·n points is H exactly when the
    trace satisfies the constraints (else they differ at a random z but with negligible
    probability)."""
    if not composition.matches_at(air, out_of_domain, challenges, coefficients, z):
        raise UnsatisfiedTrace(f"the trace does not satisfy the {air.name} AIR's constraints")
