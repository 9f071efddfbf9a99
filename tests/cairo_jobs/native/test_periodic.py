"""Periodic columns: public values repeated every P rows, read by constraints, never committed."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TypeVar

import pytest

from cairo_jobs.native import composition, prover, verifier
from cairo_jobs.native.air import BoundaryConstraint, WithoutInteraction
from cairo_jobs.native.field import P, root_of_unity
from cairo_jobs.native.parameters import Parameters

T = TypeVar("T")
SMALL = Parameters(log_blowup=2, n_queries=6, pow_bits=4, log_last_layer_degree=1)
LOG_N = 6


@dataclasses.dataclass(frozen=True)
class RoundsAir(WithoutInteraction):
    """x' = x·k(i) + c(i) (k of period 4, c of period 8) and y' = y + c(i + 1): the constants of
    the row and of the next one, as a hash's rounds read their round constants."""

    x0: int
    result: int
    k: tuple[int, ...] = (3, 1, 4, 1)
    c: tuple[int, ...] = (5, 9, 2, 6, 5, 3, 5, 8)
    log_trace_length: int = LOG_N
    name: str = "rounds"
    n_columns: int = 2
    transition_degree: int = 2

    @property
    def periodic_columns(self) -> tuple[tuple[int, ...], ...]:
        return (self.k, self.c)

    @classmethod
    def run(cls, x0: int, **constants: tuple[int, ...]) -> tuple[RoundsAir, list[list[int]]]:
        air = cls(x0, 0, **constants)
        xs, ys = [x0], [0]
        for i in range((1 << LOG_N) - 1):
            xs.append((xs[-1] * air.k[i % 4] + air.c[i % 8]) % P)
            ys.append((ys[-1] + air.c[(i + 1) % 8]) % P)
        return dataclasses.replace(air, result=xs[-1]), [xs, ys]

    def transitions(
        self, current: Sequence[T], following: Sequence[T], challenges: Sequence[int]
    ) -> list[T]:
        x, y, k, c = current
        next_x, next_y, _, next_c = following
        return [next_x - x * k - c, next_y - y - next_c]

    def boundaries(self) -> list[BoundaryConstraint]:
        last = (1 << self.log_trace_length) - 1
        return [
            BoundaryConstraint(0, 0, self.x0),
            BoundaryConstraint(1, 0, 0),
            BoundaryConstraint(0, last, self.result),
        ]

    def public_input(self) -> list[int]:
        return [self.x0, self.result]


def test_a_trace_that_follows_its_periodic_columns_proves_and_verifies() -> None:
    air, trace = RoundsAir.run(7)
    assert composition.periodic_at(air, pow(root_of_unity(LOG_N), 14, P)) == [4, 5]
    assert verifier.verify(air, prover.prove(air, trace, SMALL)) == 6 * 2 + 4


@pytest.mark.parametrize(
    "constants", [{"k": (3, 1, 4, 2)}, {"c": (5, 9, 2, 6, 5, 3, 5, 9)}, {"c": (9, 5, 2, 6) * 2}]
)
def test_a_trace_made_with_other_constants_cannot_be_proved(constants: dict) -> None:
    air, _ = RoundsAir.run(7)
    _, other = RoundsAir.run(7, **constants)
    with pytest.raises(prover.UnsatisfiedTrace):
        prover.prove(dataclasses.replace(air, result=other[0][-1]), other, SMALL)


def test_a_lying_prover_is_refused_and_a_proof_binds_its_constants(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    air, trace = RoundsAir.run(7)
    data = prover.prove(air, trace, SMALL)
    other, _ = RoundsAir.run(7, c=(5, 9, 2, 6, 5, 3, 5, 9))
    with pytest.raises(verifier.VerificationError):
        verifier.verify(dataclasses.replace(other, result=air.result), data)
    _, lie = RoundsAir.run(7, k=(3, 1, 4, 2))
    monkeypatch.setattr(prover, "require_low_degree", lambda *args: None)  # a malicious prover
    lying = dataclasses.replace(air, result=lie[0][-1])
    with pytest.raises(verifier.VerificationError):
        verifier.verify(lying, prover.prove(lying, lie, SMALL))


def test_a_period_that_does_not_divide_the_trace_is_refused() -> None:
    air, trace = RoundsAir.run(7)
    for k in ((1, 2, 3), (1,) * 128, ()):
        with pytest.raises(ValueError, match="periods must be powers of two dividing 64"):
            prover.prove(dataclasses.replace(air, k=k), trace, SMALL)
