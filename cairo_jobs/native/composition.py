"""The two random combinations a STARK proves low degree: the constraint composition H and the
DEEP combination that FRI receives. Written once for Python ints (verifier) and Felts (prover).

H(x) = Σ αᵢ·Cᵢ(x)·(x − g^(n−1))/(xⁿ − 1) + Σ δₗ·Eₗ(x)/(xⁿ − 1) + Σ βⱼ·Rⱼ(x)/(x − g^rowⱼ), where
Cᵢ are the transition constraints, Eₗ the every-row constraints and Rⱼ the row constraints:
first the boundaries t_cⱼ(x) − vⱼ, then the AIR's own row constraints; the coefficients are
drawn in that order. H is split as
H(x) = Σₖ x^(k·n)·hₖ(x) with deg hₖ < n (see `n_parts`). The constraints see the columns and
then the periodic columns' values (`periodic_at`); those are public, not committed.

DEEP(x) = [Σ_c γ_c·(t_c(x) − t_c(z)) + Σₖ γₖ·(hₖ(x) − hₖ(z))]/(x − z)
        + [Σ_c γ'_c·(t_c(x) − t_c(g·z))]/(x − g·z), drawn as γ_c, γ'_c per column (trace columns,
then interaction columns), then γₖ.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

from cairo_jobs.native import field, ntt
from cairo_jobs.native.air import Air
from cairo_jobs.native.field import P, root_of_unity

T = TypeVar("T")


def width(air: Air) -> int:
    """Trace and interaction columns together."""
    return air.n_columns + air.n_interaction_columns


def row_width(air: Air) -> int:
    """What a constraint row holds: the columns, then the periodic columns' values."""
    return width(air) + len(air.periodic_columns)


def periodic_coefficients(air: Air) -> list[np.ndarray]:
    """Each periodic column's polynomial (coefficients as a field array, degree < its period)."""
    n = 1 << air.log_trace_length
    if any(n % max(1, len(values)) or len(values) < 1 for values in air.periodic_columns):
        raise ValueError(f"the {air.name} AIR's periods must be powers of two dividing {n}")
    return [ntt.interpolate(field.from_ints(values)) for values in air.periodic_columns]


def periodic_at(air: Air, point: int) -> list[int]:
    """The periodic columns at a point x: p(x^(n/P)) for each column of period P."""
    n = 1 << air.log_trace_length
    return [
        ntt.evaluate_at(coefficients, pow(point, n // coefficients.shape[0], P))
        for coefficients in periodic_coefficients(air)
    ]


def row_terms(air: Air, current: Sequence[T], challenges: Sequence[int]) -> list[tuple[int, T]]:
    """(row, value) of every row constraint, boundaries first."""
    boundaries = [(b.row, current[b.column] - b.value) for b in air.boundaries()]
    return boundaries + air.row_constraints(current, challenges)


def constrained_rows(air: Air) -> set[int]:
    """The rows that carry row constraints."""
    zeros = [0] * row_width(air)
    return {row for row, _ in row_terms(air, zeros, [0] * air.n_challenges)}


def n_constraints(air: Air) -> int:
    """How many random coefficients H takes."""
    zeros, challenges = [0] * row_width(air), [0] * air.n_challenges
    return (
        len(air.transitions(zeros, zeros, challenges))
        + len(air.every_row(zeros, challenges))
        + len(row_terms(air, zeros, challenges))
    )


def n_parts(air: Air) -> int:
    """How many columns hₖ the composition is split into: deg H < n_parts·n.

    A transition of degree d over the (n − 1)-degree zerofier leaves (d − 1)(n − 1), an
    every-row constraint over xⁿ − 1 less; a row constraint of degree d over a linear zerofier
    leaves d(n − 1) − 1 (d = 1 for boundaries).
    """
    zeros = [0] * row_width(air)
    if air.row_constraints(zeros, [0] * air.n_challenges):
        return max(1, air.transition_degree)
    return max(1, air.transition_degree - 1)


def composition(
    air: Air,
    rows: tuple[Sequence[T], Sequence[T]],
    challenges: Sequence[int],
    coefficients: Sequence[int],
    divisors: tuple[T, T, dict[int, T]],
) -> T:
    """H at the given points from the (current, following) rows. The divisors are the inverted
    zerofiers there: the transitions', every row's (1/(xⁿ − 1)) and the row constraints' by
    row."""
    current, following = rows
    transition_divisor, every_row_divisor, row_divisors = divisors
    transitions = air.transitions(current, following, challenges)
    every_row = air.every_row(current, challenges)
    pinned = row_terms(air, current, challenges)
    if len(coefficients) != len(transitions) + len(every_row) + len(pinned):
        raise ValueError("one composition coefficient per constraint is needed")
    weights = iter(coefficients)
    terms = []
    for constraints, divisor in ((transitions, transition_divisor), (every_row, every_row_divisor)):
        if constraints:
            terms.append(_sum([next(weights) * c for c in constraints]) * divisor)
    for row, value in pinned:
        terms.append(next(weights) * value * row_divisors[row])
    return _sum(terms)


def matches_at(
    air: Air,
    out_of_domain: tuple[Sequence[int], Sequence[int], Sequence[int]],
    challenges: Sequence[int],
    coefficients: Sequence[int],
    z: int,
) -> bool:
    """Whether H(z), from the columns' values at z and g·z, equals Σ z^(k·n)·hₖ(z)."""
    trace_z, trace_gz, parts_z = out_of_domain
    n = 1 << air.log_trace_length
    g = root_of_unity(air.log_trace_length)
    rows = ([*trace_z, *periodic_at(air, z)], [*trace_gz, *periodic_at(air, g * z % P)])
    every_row_divisor = pow(pow(z, n, P) - 1, -1, P)
    transition_divisor = (z - pow(g, n - 1, P)) * every_row_divisor
    row_divisors = {row: pow(z - pow(g, row, P), -1, P) for row in constrained_rows(air)}
    expected = composition(
        air,
        rows,
        challenges,
        coefficients,
        (transition_divisor, every_row_divisor, row_divisors),
    )
    z_to_n = pow(z, n, P)
    claimed = sum(h * pow(z_to_n, k, P) for k, h in enumerate(parts_z))
    return (expected - claimed) % P == 0


def deep(
    trace: Sequence[T],
    parts: Sequence[T],
    out_of_domain: tuple[list[int], list[int], list[int]],
    coefficients: Sequence[int],
    divisor_z: T,
    divisor_gz: T,
) -> T:
    """The DEEP combination at the given points (divisors: 1/(x − z) and 1/(x − g·z)).

    The values at z and g·z are combined once, as constants: one product and one sum per
    column and point set."""
    trace_z, trace_gz, parts_z = out_of_domain
    gammas, gammas_g = coefficients[0 : 2 * len(trace) : 2], coefficients[1 : 2 * len(trace) : 2]
    gammas_parts = coefficients[2 * len(trace) :]
    at_z = _sum(
        [g * cell for g, cell in zip(gammas, trace, strict=True)]
        + [g * part for g, part in zip(gammas_parts, parts, strict=True)]
    )
    at_gz = _sum([g * cell for g, cell in zip(gammas_g, trace, strict=True)])
    constant_z = sum(g * v for g, v in zip(gammas, trace_z, strict=True)) + sum(
        g * v for g, v in zip(gammas_parts, parts_z, strict=True)
    )
    constant_gz = sum(g * v for g, v in zip(gammas_g, trace_gz, strict=True))
    return (at_z - constant_z % P) * divisor_z + (at_gz - constant_gz % P) * divisor_gz


def _sum(terms: list[T]) -> T:
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total
