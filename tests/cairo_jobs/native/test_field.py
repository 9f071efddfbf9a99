"""Array arithmetic over the Stark prime agrees with Python ints, edge values included."""

from __future__ import annotations

import random

import pytest

from cairo_jobs.native import field
from cairo_jobs.native.field import Felts, P

EDGES = [0, 1, 2, P - 1, P - 2, 2**32 - 1, 2**32, 2**192, 2**251, P >> 1]


def sample(seed: int, n: int = 3000) -> list[int]:
    rng = random.Random(seed)
    return [*EDGES, *(rng.randrange(P) for _ in range(n))]


def pairs() -> tuple[list[int], list[int]]:
    xs = sample(1)
    ys = sample(2)
    # every edge value against every edge value, too
    xs += [x for x in EDGES for _ in EDGES]
    ys += [y for _ in EDGES for y in EDGES]
    return xs, ys


def test_round_trip_reduces_mod_p() -> None:
    values = [*sample(3, 100), P, P + 5, 2**256 - 1, -7]
    assert field.to_ints(field.from_ints(values)) == [v % P for v in values]
    assert field.to_ints(field.from_ints([])) == []
    small = [0, 1, 2**32 - 1, 2**32, 2**64 - 1]  # all below 2^64: numpy's path
    assert field.to_ints(field.from_ints(small)) == small
    assert field.to_ints(field.from_ints(iter(small))) == small


def test_add_sub_mul_match_python_ints() -> None:
    xs, ys = pairs()
    a, b = field.from_ints(xs), field.from_ints(ys)
    assert field.to_ints(field.mul(a, b)) == [x * y % P for x, y in zip(xs, ys, strict=True)]
    assert field.to_ints(field.add(a, b)) == [(x + y) % P for x, y in zip(xs, ys, strict=True)]
    assert field.to_ints(field.sub(a, b)) == [(x - y) % P for x, y in zip(xs, ys, strict=True)]


def test_one_row_operand_is_broadcast() -> None:
    xs = sample(4, 50)
    assert field.to_ints(field.mul(field.from_ints(xs), field.from_ints([7]))) == [
        7 * x % P for x in xs
    ]


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="do not match"):
        field.add(field.from_ints([1, 2, 3]), field.from_ints([1, 2]))


def test_batch_inverse_across_chunks() -> None:
    xs = [x or 1 for x in sample(5, 5000)]
    inverses = field.to_ints(field.batch_inverse(field.from_ints(xs)))
    assert all(x * y % P == 1 for x, y in zip(xs, inverses, strict=True))


def test_prefix_products_across_chunks() -> None:
    rng = random.Random(8)
    xs = [rng.randrange(P) for _ in range(2 * field.CHUNK + 5)]
    running, expected = 1, []
    for x in xs:
        running = running * x % P
        expected.append(running)
    assert field.to_ints(field.prefix_products(field.from_ints(xs))) == expected


def test_batch_inverse_of_zero_raises() -> None:
    with pytest.raises(ZeroDivisionError, match="zero"):
        field.batch_inverse(field.from_ints([*range(1, 5000), 0, 3]))


def test_powers() -> None:
    assert field.to_ints(field.powers(5, 4500, start=9)) == [
        9 * pow(5, i, P) % P for i in range(4500)
    ]


def test_roots_of_unity_have_exact_order() -> None:
    for log_n in (0, 1, 5, 20, 192):
        w = field.root_of_unity(log_n)
        assert pow(w, 2**log_n, P) == 1
        assert log_n == 0 or pow(w, 2 ** (log_n - 1), P) != 1
    with pytest.raises(ValueError, match="root of unity"):
        field.root_of_unity(193)


def test_felts_formula_matches_ints() -> None:
    xs, ys = sample(6, 200), sample(7, 200)

    def formula(x, y):  # runs on ints and on Felts alike
        return 3 - x * y + (x - 5) * 2 - y

    expected = [formula(x, y) % P for x, y in zip(xs, ys, strict=True)]
    got = formula(Felts(field.from_ints(xs)), Felts(field.from_ints(ys)))
    assert field.to_ints(got.array) == expected
    assert field.to_ints((-Felts(field.from_ints(xs))).array) == [-x % P for x in xs]


def test_canonical_bytes_are_big_endian_32_bytes() -> None:
    xs = sample(8, 10)
    raw = field.canonical_bytes(field.from_ints(xs))
    assert raw == b"".join(x.to_bytes(32, "big") for x in xs)
