"""End to end: honest proofs verify; any change to the statement, trace or proof is refused."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from typing import TypeVar

import pytest

from cairo_jobs.native import prover, verifier
from cairo_jobs.native.air import BoundaryConstraint, FibonacciAir, WithoutInteraction
from cairo_jobs.native.field import P
from cairo_jobs.native.parameters import Parameters
from cairo_jobs.native.verifier import VerificationError

T = TypeVar("T")
Proved = tuple[FibonacciAir, list[list[int]], bytes]
SMALL = Parameters(log_blowup=2, n_queries=6, pow_bits=4, log_last_layer_degree=1)


@dataclasses.dataclass(frozen=True)
class CubeAir(WithoutInteraction):
    """x' = x³ + x·k + 1 with k in a second, constant column: degree 3, two composition parts."""

    log_trace_length: int
    x0: int
    k: int
    result: int
    name: str = "cube"
    n_columns: int = 2
    transition_degree: int = 3

    @classmethod
    def run(cls, log_trace_length: int, x0: int, k: int) -> tuple[CubeAir, list[list[int]]]:
        xs = [x0]
        for _ in range((1 << log_trace_length) - 1):
            xs.append((xs[-1] ** 3 + xs[-1] * k + 1) % P)
        return cls(log_trace_length, x0, k, xs[-1]), [xs, [k] * len(xs)]

    def transitions(
        self, current: Sequence[T], following: Sequence[T], challenges: Sequence[int]
    ) -> list[T]:
        x, k = current
        return [following[0] - x * x * x - x * k - 1, following[1] - k]

    def boundaries(self) -> list[BoundaryConstraint]:
        last = (1 << self.log_trace_length) - 1
        return [
            BoundaryConstraint(0, 0, self.x0),
            BoundaryConstraint(1, 0, self.k),
            BoundaryConstraint(0, last, self.result),
        ]

    def public_input(self) -> list[int]:
        return [self.x0, self.k, self.result]


@pytest.fixture(scope="module")
def fibonacci() -> Proved:
    air, trace = FibonacciAir.run(6, a0=2, b0=5)
    return air, trace, prover.prove(air, trace, SMALL)


def test_honest_proofs_verify_with_their_security() -> None:
    air, trace = FibonacciAir.run(7)
    assert verifier.verify(air, prover.prove(air, trace)) == 32 * 2 + 16
    cube, cube_trace = CubeAir.run(5, x0=3, k=11)
    assert verifier.verify(cube, prover.prove(cube, cube_trace, SMALL)) == 6 * 2 + 4


@pytest.mark.parametrize("cell", [(0, 0), (1, 0), (0, 31), (1, 40), (0, 63), (1, 63)])
def test_a_changed_trace_cell_cannot_be_proved(fibonacci: Proved, cell: tuple[int, int]) -> None:
    air, trace, _ = fibonacci
    column, row = cell
    changed = [list(c) for c in trace]
    changed[column][row] = (changed[column][row] + 1) % P
    with pytest.raises(prover.UnsatisfiedTrace):
        prover.prove(air, changed, SMALL)


@pytest.mark.parametrize("cell", [(0, 0), (1, 30), (1, 63)])
def test_a_lying_prover_with_a_changed_cell_is_refused(
    fibonacci: Proved, cell: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    air, trace, _ = fibonacci
    monkeypatch.setattr(prover, "require_low_degree", lambda *args: None)  # a malicious prover
    changed = [list(c) for c in trace]
    changed[cell[0]][cell[1]] = (changed[cell[0]][cell[1]] + 1) % P
    with pytest.raises(VerificationError):
        verifier.verify(air, prover.prove(air, changed, SMALL))


def test_other_public_input_or_statement_is_refused(fibonacci: Proved) -> None:
    air, _, data = fibonacci
    others = [
        dataclasses.replace(air, result=(air.result + 1) % P),
        dataclasses.replace(air, a0=air.a0 + 1),
        dataclasses.replace(air, b0=air.b0 + 1),
        dataclasses.replace(air, name="fibonacci2"),
        dataclasses.replace(air, log_trace_length=7),
        CubeAir(6, air.a0, air.b0, air.result),
    ]
    for other in others:
        with pytest.raises(VerificationError):
            verifier.verify(other, data)


def test_any_flipped_byte_is_refused(fibonacci: Proved) -> None:
    air, _, data = fibonacci
    rng = random.Random(7)
    positions = [*range(200), *rng.sample(range(200, len(data)), 300)]
    for position in positions:
        flipped = bytearray(data)
        flipped[position] ^= 1 << rng.randrange(8)
        with pytest.raises(VerificationError):
            verifier.verify(air, bytes(flipped))


@pytest.mark.parametrize(
    "data", [b"", b"\x00", b"not a proof", b"\x91\x01", bytes(range(256)), b"\xc1"]
)
def test_garbage_is_refused_with_a_reason(fibonacci: Proved, data: bytes) -> None:
    air, _, _ = fibonacci
    with pytest.raises(VerificationError, match=r"\w"):
        verifier.verify(air, data)


def test_truncated_and_extended_proofs_are_refused(fibonacci: Proved) -> None:
    air, _, data = fibonacci
    for bad in (data[:-1], data[: len(data) // 2], data + b"\x00"):
        with pytest.raises(VerificationError):
            verifier.verify(air, bad)


def test_trace_of_the_wrong_shape_is_refused() -> None:
    air, trace = FibonacciAir.run(5)
    for bad in ([trace[0]], [trace[0], trace[1][:-1]], [*trace, trace[0]]):
        with pytest.raises(ValueError, match="2 columns of 32 rows"):
            prover.prove(air, bad, SMALL)


def test_security_bits_follow_the_parameters() -> None:
    assert Parameters().security_bits(20) >= 80, "the default meets the network's minimum"
    assert Parameters(log_blowup=4, n_queries=20, pow_bits=16).security_bits(20) == 96
    assert Parameters(log_blowup=3, n_queries=30, pow_bits=8).security_bits(20) == 98
    assert Parameters(log_blowup=6, n_queries=256, pow_bits=40).security_bits(30) == 251 - 30
    for bad in ({"log_blowup": 0}, {"n_queries": 0}, {"pow_bits": -1}, {"n_queries": True}):
        with pytest.raises(ValueError, match="must be an integer"):
            Parameters(**bad)
