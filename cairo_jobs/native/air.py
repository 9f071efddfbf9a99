"""What an AIR (algebraic intermediate representation) tells the prover and the verifier.

A trace has `n_columns` columns of 2^log_trace_length rows. Transition constraints relate each
row to the next on every row but the last; every-row constraints hold on each row, the last
included; boundary constraints pin one cell to a public value.
An AIR may add an interaction phase: after the trace is committed, `n_challenges` random field
elements are drawn and `interaction(trace, challenges)` builds `n_interaction_columns` more
columns (e.g. the running product of a permutation argument), committed in turn. Constraints
see the trace and interaction columns side by side, and the challenges; row constraints are
formulas that must vanish on one given row.
An AIR may also have periodic columns: public values repeated every P rows (P a power of two
dividing the trace length), e.g. round constants. Column k takes values[k][i mod P] on row i;
it is the polynomial p of degree < P with p(ω^r) = values[k][r] (ω of order P) read at x^(n/P),
so neither side commits it: the verifier evaluates it at z and g·z itself. Constraint rows are
the trace columns, then the interaction columns, then the periodic columns' values there.
Constraint formulas use only + − × and integer constants, so the same code runs on Python ints
(the verifier, at one point) and on `Felts` (the prover, on the whole evaluation domain).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np

from cairo_jobs.native.field import P

T = TypeVar("T")


@dataclass(frozen=True)
class BoundaryConstraint:
    """trace[column][row] == value."""

    column: int
    row: int
    value: int


class Air(Protocol):
    """A statement: its name, trace shape, constraints and public input."""

    name: str
    n_columns: int
    log_trace_length: int
    transition_degree: int  # the highest total degree of a constraint formula in trace cells
    n_challenges: int
    n_interaction_columns: int
    periodic_columns: Sequence[Sequence[int]]  # one period of each, appended to the rows

    def transitions(
        self, current: Sequence[T], following: Sequence[T], challenges: Sequence[int]
    ) -> list[T]:
        """Values that are zero when `following` is the row after `current`."""
        ...

    def every_row(self, current: Sequence[T], challenges: Sequence[int]) -> list[T]:
        """Values that are zero on every row."""
        ...

    def boundaries(self) -> list[BoundaryConstraint]: ...

    def row_constraints(
        self, current: Sequence[T], challenges: Sequence[int]
    ) -> list[tuple[int, T]]:
        """(row, value) pairs: each value must be zero on its row."""
        ...

    def interaction(
        self, trace: Sequence[Sequence[int]], challenges: Sequence[int]
    ) -> Sequence[Sequence[int] | np.ndarray]:
        """The interaction columns of an honest trace: lists of ints or field arrays."""
        ...

    def public_input(self) -> list[int]:
        """The field elements the statement makes public (they seed the transcript)."""
        ...


class WithoutInteraction:
    """The interaction-phase members of an AIR that has none (and no every-row or row
    constraints, no periodic columns)."""

    n_challenges = 0
    n_interaction_columns = 0
    periodic_columns: tuple[tuple[int, ...], ...] = ()

    def every_row(self, current: Sequence[T], challenges: Sequence[int]) -> list[T]:
        return []

    def row_constraints(
        self, current: Sequence[T], challenges: Sequence[int]
    ) -> list[tuple[int, T]]:
        return []

    def interaction(
        self, trace: Sequence[Sequence[int]], challenges: Sequence[int]
    ) -> list[list[int]]:
        return []


@dataclass(frozen=True)
class FibonacciAir(WithoutInteraction):
    """Two columns (a, b): a' = b, b' = a + b from (a0, b0); b on the last row is `result`."""

    log_trace_length: int
    a0: int
    b0: int
    result: int
    name: str = "fibonacci"
    n_columns: int = 2
    transition_degree: int = 1

    @classmethod
    def run(
        cls, log_trace_length: int, a0: int = 1, b0: int = 1
    ) -> tuple[FibonacciAir, list[list[int]]]:
        """The statement and its trace for a run of 2^log_trace_length rows."""
        a_column, b_column = [a0 % P], [b0 % P]
        for _ in range((1 << log_trace_length) - 1):
            a, b = a_column[-1], b_column[-1]
            a_column.append(b)
            b_column.append((a + b) % P)
        return cls(log_trace_length, a0, b0, b_column[-1]), [a_column, b_column]

    def transitions(
        self, current: Sequence[T], following: Sequence[T], challenges: Sequence[int]
    ) -> list[T]:
        a, b = current
        next_a, next_b = following
        return [next_a - b, next_b - a - b]

    def boundaries(self) -> list[BoundaryConstraint]:
        last = (1 << self.log_trace_length) - 1
        return [
            BoundaryConstraint(0, 0, self.a0),
            BoundaryConstraint(1, 0, self.b0),
            BoundaryConstraint(1, last, self.result),
        ]

    def public_input(self) -> list[int]:
        return [self.a0, self.b0, self.result]
