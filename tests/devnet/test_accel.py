"""The fast modular helpers return what cairo-lang's sympy-based originals return."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devnet import accel

P = accel.STARK_PRIME
felts = st.integers(min_value=0, max_value=P - 1)


@settings(max_examples=60, deadline=None)
@given(felts)
def test_sqrt_matches_cairo_lang(n: int) -> None:
    if accel._original_is_quad_residue(n, P):
        assert accel.sqrt(n, P) == accel._original_sqrt(n, P)
    else:
        with pytest.raises(ValueError):
            accel.sqrt(n, P)


@settings(max_examples=200, deadline=None)
@given(felts)
def test_is_quad_residue_matches_cairo_lang(n: int) -> None:
    assert accel.is_quad_residue(n, P) == accel._original_is_quad_residue(n, P)


@settings(max_examples=200, deadline=None)
@given(felts, st.integers(min_value=1, max_value=P - 1))
def test_div_mod_inverts_multiplication(n: int, m: int) -> None:
    assert accel.div_mod(n, m, P) * m % P == n


def test_edge_cases() -> None:
    assert not accel._original_is_quad_residue(accel.NON_RESIDUE, P)
    assert accel.sqrt(0, P) == 0 and accel.sqrt(1, P) == 1 and accel.sqrt(4, P) == 2
    with pytest.raises(AssertionError):
        accel.div_mod(1, P, P)
    assert accel.sqrt(4, 7) == 2, "other moduli use cairo-lang's own function"


@settings(max_examples=500, deadline=None)
@given(felts)
def test_sqrt_of_a_square_is_its_smaller_root(x: int) -> None:
    assert accel.sqrt(x * x % P, P) == min(x, P - x)
