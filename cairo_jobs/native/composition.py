"""The two random combinations a STARK proves low degree: the constraint composition H and the
DEEP combination that FRI receives. Written once for Python ints (verifier) and Felts (prover).

H(x) = Σ αᵢ·Cᵢ(x)·(x − g^(n−1))/(xⁿ − 1) + Σ βⱼ·(t_cⱼ(x) − vⱼ)/(x − g^rowⱼ), with the
coefficients drawn in that order (transitions, then boundaries). H is split as
H(x) = Σₖ x^(k·n)·hₖ(x) with deg hₖ < n.

DEEP(x) = [Σ_c γ_c·(t_c(x) − t_c(z)) + Σₖ γₖ·(hₖ(x) − hₖ(z))]/(x − z)
        + [Σ_c γ'_c·(t_c(x) − t_c(g·z))]/(x − g·z), drawn as γ_c, γ'_c per column, then γₖ.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from cairo_jobs.native.air import Air

T = TypeVar("T")


def n_constraints(air: Air) -> int:
    """How many random coefficients H takes."""
    probe = air.transitions([0] * air.n_columns, [0] * air.n_columns)
    return len(probe) + len(air.boundaries())


def n_parts(air: Air) -> int:
    """How many columns hₖ the composition is split into."""
    return max(1, air.transition_degree - 1)


def composition(
    air: Air,
    current: Sequence[T],
    following: Sequence[T],
    coefficients: Sequence[int],
    transition_divisor: T,
    boundary_divisors: dict[int, T],
) -> T:
    """H at the given points; the divisors are the inverted zerofiers there (boundary by row)."""
    transitions = air.transitions(current, following)
    split = len(transitions)
    terms = [
        c * t * transition_divisor for c, t in zip(coefficients[:split], transitions, strict=True)
    ]
    for c, boundary in zip(coefficients[split:], air.boundaries(), strict=True):
        gap = current[boundary.column] - boundary.value
        terms.append(c * gap * boundary_divisors[boundary.row])
    return _sum(terms)


def deep(
    trace: Sequence[T],
    parts: Sequence[T],
    out_of_domain: tuple[list[int], list[int], list[int]],
    coefficients: Sequence[int],
    divisor_z: T,
    divisor_gz: T,
) -> T:
    """The DEEP combination at the given points (divisors: 1/(x − z) and 1/(x − g·z))."""
    trace_z, trace_gz, parts_z = out_of_domain
    at_z, at_gz = [], []
    for c, cell in enumerate(trace):
        at_z.append(coefficients[2 * c] * (cell - trace_z[c]))
        at_gz.append(coefficients[2 * c + 1] * (cell - trace_gz[c]))
    offset = 2 * len(trace)
    for k, part in enumerate(parts):
        at_z.append(coefficients[offset + k] * (part - parts_z[k]))
    return _sum(at_z) * divisor_z + _sum(at_gz) * divisor_gz


def _sum(terms: list[T]) -> T:
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total
