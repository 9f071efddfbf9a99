"""FRI accepts low-degree polynomials and rejects high-degree ones and tampered proofs."""

from __future__ import annotations

import dataclasses
import random

import pytest

from cairo_jobs.native import field, fri, ntt
from cairo_jobs.native.channel import Channel
from cairo_jobs.native.field import P
from cairo_jobs.native.parameters import Parameters

PARAMS = Parameters(log_blowup=2, n_queries=12, pow_bits=4, log_last_layer_degree=2)
LOG_SIZE = 10
OFFSET = 3


def evaluations(degree_bound: int, seed: int = 1) -> list[int]:
    rng = random.Random(seed)
    coefficients = field.from_ints(rng.randrange(P) for _ in range(degree_bound))
    return field.to_ints(ntt.extend(coefficients, 1 << LOG_SIZE, OFFSET))


def prove(values: list[int]) -> fri.FriProof:
    proof, _ = fri.prove(Channel(b"fri test"), field.from_ints(values), OFFSET, PARAMS)
    return proof


def verify(proof: fri.FriProof, values: list[int]) -> None:
    half = len(values) // 2

    def first_layer(queries: list[int]) -> list[fri.Pair]:
        return [(values[q], values[q + half]) for q in queries]

    fri.verify(Channel(b"fri test"), proof, LOG_SIZE, OFFSET, PARAMS, first_layer)


def test_low_degree_polynomial_is_accepted() -> None:
    values = evaluations(1 << (LOG_SIZE - PARAMS.log_blowup))
    verify(prove(values), values)


@pytest.mark.parametrize("degree_bound", [(1 << 8) + 1, 1 << 9, 1 << 10])
def test_high_degree_polynomial_is_rejected(degree_bound: int) -> None:
    values = evaluations(degree_bound)
    with pytest.raises(fri.FriError):
        verify(prove(values), values)


def test_layer_zero_other_than_the_folded_one_is_rejected() -> None:
    values = evaluations(1 << 8)
    proof = prove(values)
    shifted = [(v + 1) % P for v in values]  # still low degree, but not what was folded
    with pytest.raises(fri.FriError, match="layer 1"):
        verify(proof, shifted)


def test_tampered_proofs_are_rejected() -> None:
    values = evaluations(1 << 8)
    proof = prove(values)
    opening = proof.openings[1][3]
    bad_pair = dataclasses.replace(opening, pair=(opening.pair[0], (opening.pair[1] + 1) % P))
    bad_path = dataclasses.replace(opening, path=[opening.path[0][::-1], *opening.path[1:]])
    for bad in (bad_pair, bad_path):
        layers = [list(layer) for layer in proof.openings]
        layers[1][3] = bad
        with pytest.raises(fri.FriError, match="layer 2"):
            verify(dataclasses.replace(proof, openings=layers), values)
    last = [proof.last_layer[0] + 1, *proof.last_layer[1:]]
    roots = [proof.roots[0][::-1], *proof.roots[1:]]
    for tampered in (
        dataclasses.replace(proof, last_layer=last),
        dataclasses.replace(proof, roots=roots),
        dataclasses.replace(proof, nonce=proof.nonce + 1),
        dataclasses.replace(proof, roots=proof.roots[1:]),
    ):
        with pytest.raises(fri.FriError):
            verify(tampered, values)


def test_domain_too_small_for_the_parameters() -> None:
    with pytest.raises(ValueError, match="too small"):
        fri.n_folds(4, PARAMS)
