"""The patches of devnet/accel.py return what cairo-lang's originals return."""

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starkware.crypto.signature.signature import ALPHA, EC_GEN, EC_ORDER, FIELD_PRIME
from starkware.python.math_utils import ec_safe_mult
from starkware.starknet.core.os.syscall_utils import get_syscall_structs

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
    with pytest.raises(ValueError, match="not a square"):
        accel.sqrt(accel.NON_RESIDUE, P)
    with pytest.raises(ValueError, match="not a square"):
        accel.sqrt(pow(accel.NON_RESIDUE, 3, P), P)
    assert accel.sqrt(0, P) == 0 and accel.sqrt(1, P) == 1 and accel.sqrt(4, P) == 2
    with pytest.raises(AssertionError):
        accel.div_mod(1, P, P)
    assert accel.sqrt(4, 7) == 2, "other moduli use cairo-lang's own function"


@settings(max_examples=500, deadline=None)
@given(felts)
def test_sqrt_of_a_square_is_its_smaller_root(x: int) -> None:
    assert accel.sqrt(x * x % P, P) == min(x, P - x)


def test_memoized_structs_match_cairo_lang() -> None:
    """Every syscall struct: the same definition and namedtuple fields, built once."""
    factory = get_syscall_structs().factory
    names = [name for name in factory.identifiers.as_dict()
             if str(name).endswith("Request") or str(name).endswith("Response")]
    assert len(names) > 20
    for name in names:
        original = accel._original_build_struct(factory, name)
        built = accel.build_struct(factory, name)
        assert built is accel.build_struct(factory, name)
        assert (built.__name__, built._fields) == (original.__name__, original._fields)
        assert (accel.get_struct_definition(factory, name)
                == accel._original_get_struct_definition(factory, name))


@settings(max_examples=100, deadline=None)
@given(felts, felts)
def test_pedersen_matches_cairo_lang(x: int, y: int) -> None:
    assert accel.pedersen_hash(x, y) == accel._original_pedersen_hash(x, y)


@pytest.mark.parametrize("x, y", [(P, 0), (0, P), (-1, 0), (2**256, 1)])
def test_pedersen_refuses_what_cairo_lang_refuses(x: int, y: int) -> None:
    with pytest.raises(AssertionError):
        accel._original_pedersen_hash(x, y)
    with pytest.raises(AssertionError):
        accel.pedersen_hash(x, y)


def ec_op_outcome(impl: Callable[..., tuple[int, int]], p: tuple[int, int],
                  q: tuple[int, int], m: int) -> object:
    """impl's P + m * Q on the Stark curve, or the message of the AssertionError it raised."""
    try:
        return impl(*p, *q, m, ALPHA, FIELD_PRIME, 256)
    except AssertionError as exc:
        return f"refused: {exc}"


curve_points = st.integers(1, EC_ORDER - 1).map(lambda k: ec_safe_mult(k, EC_GEN, ALPHA, P))


@settings(max_examples=12, deadline=None)
@given(curve_points, curve_points, st.integers(0, 2**252 - 1))
def test_ec_op_matches_cairo_lang(p: tuple[int, int], q: tuple[int, int], m: int) -> None:
    assert (ec_op_outcome(accel.ec_op_impl, p, q, m)
            == ec_op_outcome(accel._original_ec_op_impl, p, q, m))


@settings(max_examples=6, deadline=None)
@given(curve_points, st.integers(0, 2**252 - 1))
def test_ec_op_with_kept_doublings_matches_cairo_lang(p: tuple[int, int], m: int) -> None:
    """Q = the generator, as in every signature check: its doublings are kept from the second
    time on."""
    expected = ec_op_outcome(accel._original_ec_op_impl, p, EC_GEN, m)
    assert [ec_op_outcome(accel.ec_op_impl, p, EC_GEN, m) for _ in range(3)] == [expected] * 3


def test_ec_op_refuses_where_cairo_lang_does() -> None:
    """Shared x coordinates at the first step (P = Q, P = -Q) and later (P = 2Q, m even),
    with Q's doublings computed, then kept."""
    q = ec_safe_mult(12345, EC_GEN, ALPHA, P)
    minus_q = (q[0], P - q[1])
    double_q = ec_safe_mult(2, q, ALPHA, P)
    for p, m in ((q, 7), (minus_q, 1), (double_q, 6)) * 3:
        outcome = ec_op_outcome(accel.ec_op_impl, p, q, m)
        assert isinstance(outcome, str) and "same x coordinate" in outcome
        assert outcome == ec_op_outcome(accel._original_ec_op_impl, p, q, m)
    assert accel.ec_op_impl(*q, *double_q, 0, ALPHA, FIELD_PRIME, 256) == q


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(felts, st.integers(-P, 3 * P)), min_size=3, max_size=3))
def test_poseidon_permutation_matches_cairo_lang(elements: list[int]) -> None:
    """Field elements, and integers past the prime as `poseidon_hash_many`'s sums give them."""
    assert accel.poseidon_perm(*elements) == accel._original_poseidon_perm(*elements)


def test_poseidon_other_inputs_go_to_cairo_lang() -> None:
    assert accel.poseidon_perm(P + 1, 2, 3) == accel._original_poseidon_perm(P + 1, 2, 3)
    with pytest.raises(AssertionError):
        accel.poseidon_perm(1, 2)

