"""Transforms agree with direct polynomial evaluation and invert each other."""

from __future__ import annotations

import random

import pytest

from cairo_jobs.native import field, ntt
from cairo_jobs.native.field import P


def direct(coefficients: list[int], x: int) -> int:
    return sum(c * pow(x, i, P) for i, c in enumerate(coefficients)) % P


def random_values(n: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(P) for _ in range(n)]


@pytest.mark.parametrize("log_n", [0, 1, 3, 6])
def test_evaluate_on_coset_matches_direct(log_n: int) -> None:
    n = 1 << log_n
    coefficients = random_values(n, log_n)
    w = field.root_of_unity(log_n)
    got = field.to_ints(ntt.evaluate(field.from_ints(coefficients), offset=3))
    assert got == [direct(coefficients, 3 * pow(w, i, P)) for i in range(n)]


def test_interpolate_inverts_evaluate_on_large_sizes() -> None:
    coefficients = field.from_ints(random_values(1 << 13, 9))
    for offset in (1, 3):
        values = ntt.evaluate(coefficients, offset)
        assert (ntt.interpolate(values, offset) == coefficients).all()


def test_extend_keeps_the_polynomial() -> None:
    coefficients = random_values(16, 4)
    w = field.root_of_unity(7)
    extended = field.to_ints(ntt.extend(field.from_ints(coefficients), 128, offset=5))
    assert extended[::17] == [direct(coefficients, 5 * pow(w, i, P)) for i in range(0, 128, 17)]
    with pytest.raises(ValueError, match="cannot extend"):
        ntt.extend(field.from_ints(coefficients), 8, offset=5)


def test_evaluate_at_one_point() -> None:
    coefficients = random_values(300, 5)
    assert ntt.evaluate_at(field.from_ints(coefficients), 1234567) == direct(coefficients, 1234567)


def test_lengths_must_be_powers_of_two() -> None:
    with pytest.raises(ValueError, match="not a power of two"):
        ntt.evaluate(field.from_ints([1, 2, 3]))
