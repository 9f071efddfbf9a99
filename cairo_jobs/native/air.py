"""What an AIR (algebraic intermediate representation) tells the prover and the verifier.

A trace has `n_columns` columns of 2^log_trace_length rows. Transition constraints relate each
row to the next on every row but the last; boundary constraints pin one cell to a public value.
Constraint formulas use only + − × and integer constants, so the same code runs on Python ints
(the verifier, at one point) and on `Felts` (the prover, on the whole evaluation domain).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

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
    transition_degree: int  # the highest total degree of a transition formula in trace cells

    def transitions(self, current: Sequence[T], following: Sequence[T]) -> list[T]:
        """Values that are zero when `following` is the row after `current`."""
        ...

    def boundaries(self) -> list[BoundaryConstraint]: ...

    def public_input(self) -> list[int]:
        """The field elements the statement makes public (they seed the transcript)."""
        ...


@dataclass(frozen=True)
class FibonacciAir:
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

    def transitions(self, current: Sequence[T], following: Sequence[T]) -> list[T]:
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
