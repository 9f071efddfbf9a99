"""The interaction phase: a permutation argument whose challenge comes after the trace."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from typing import TypeVar

import pytest

from cairo_jobs.native import prover, verifier
from cairo_jobs.native.air import BoundaryConstraint
from cairo_jobs.native.field import P
from cairo_jobs.native.parameters import Parameters

T = TypeVar("T")
SMALL = Parameters(log_blowup=2, n_queries=6, pow_bits=4, log_last_layer_degree=1)
LOG_N = 6


@dataclasses.dataclass(frozen=True)
class PermutationAir:
    """Column b is a permutation of column a: with p₀ = 1 and p_{i+1}·(z − bᵢ) = pᵢ·(z − aᵢ),
    the last row's p·(z − a) equals (z − b) exactly when Π(z − aᵢ) = Π(z − bᵢ)."""

    log_trace_length: int = LOG_N
    name: str = "permutation"
    n_columns: int = 2
    transition_degree: int = 2
    n_challenges: int = 1
    n_interaction_columns: int = 1
    periodic_columns: tuple = ()

    def transitions(
        self, current: Sequence[T], following: Sequence[T], challenges: Sequence[int]
    ) -> list[T]:
        (z,), (a, b, p) = challenges, current
        return [following[2] * (z - b) - p * (z - a)]

    def every_row(self, current: Sequence[T], challenges: Sequence[int]) -> list[T]:
        return []

    def boundaries(self) -> list[BoundaryConstraint]:
        return [BoundaryConstraint(2, 0, 1)]

    def row_constraints(
        self, current: Sequence[T], challenges: Sequence[int]
    ) -> list[tuple[int, T]]:
        (z,), (a, b, p) = challenges, current
        return [((1 << self.log_trace_length) - 1, p * (z - a) - (z - b))]

    def interaction(
        self, trace: Sequence[Sequence[int]], challenges: Sequence[int]
    ) -> list[list[int]]:
        (z,), (a, b) = challenges, trace
        products = [1]
        for a_i, b_i in zip(a[:-1], b[:-1], strict=True):
            products.append(products[-1] * (z - a_i) * pow(z - b_i, -1, P) % P)
        return [products]

    def public_input(self) -> list[int]:
        return []


def columns(permuted: bool) -> list[list[int]]:
    rng = random.Random(3)
    a = [rng.randrange(P) for _ in range(1 << LOG_N)]
    b = a[::-1] if permuted else [*a[:-1], a[-1] + 1]
    return [a, b]


def test_a_permutation_proves_and_verifies() -> None:
    air = PermutationAir()
    data = prover.prove(air, columns(permuted=True), SMALL)
    assert verifier.verify(air, data) == SMALL.security_bits(LOG_N + SMALL.log_blowup)


def test_a_non_permutation_cannot_be_proved() -> None:
    with pytest.raises(prover.UnsatisfiedTrace):
        prover.prove(PermutationAir(), columns(permuted=False), SMALL)


def test_a_lying_prover_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prover, "require_low_degree", lambda *args: None)  # a malicious prover
    air = PermutationAir()
    with pytest.raises(verifier.VerificationError):
        verifier.verify(air, prover.prove(air, columns(permuted=False), SMALL))


def test_interaction_columns_of_the_wrong_shape_are_refused() -> None:
    class Broken(PermutationAir):
        def interaction(
            self, trace: Sequence[Sequence[int]], challenges: Sequence[int]
        ) -> list[list[int]]:
            return [[1, 2, 3]]

    with pytest.raises(ValueError, match="interaction must have 1 columns of 64 rows"):
        prover.prove(Broken(), columns(permuted=True), SMALL)


def test_a_proof_without_its_interaction_commitment_is_refused() -> None:
    from cairo_jobs.native import proof as proof_format

    air = PermutationAir()
    proof = proof_format.decode(prover.prove(air, columns(permuted=True), SMALL))
    stripped = dataclasses.replace(proof, trace_roots=proof.trace_roots[:1])
    with pytest.raises(verifier.VerificationError, match="trace commitments"):
        verifier.verify(air, proof_format.encode(stripped))
