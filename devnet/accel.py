"""Faster equivalents of cairo-lang internals, installed in its modules: every patch of the devnet.

1. Three modular-arithmetic helpers (`starkware.python.math_utils`).

Profiling an invoke showed its ECDSA check dominating: the Cairo 1 `check_ecdsa_signature` hints
call `starkware.python.math_utils.sqrt` / `is_quad_residue`, and the EC-op builtin computes
slopes with `div_mod`, all through sympy (about 40 ms per square root modulo the Stark prime,
whose p - 1 has 2^192 as a factor). The replacements give the same results: for the Stark prime, a
square root from the discrete logarithm of n^q in the 2^192-order subgroup, found 8 bits at a
time with precomputed tables: one chain of 184 squarings (n^q, its 2^8-th power, ...) and ~300
products with table entries, instead of sympy's ~18,000 squarings (or 2,300 with one chain per
digit), a non-square told by the parity of that logarithm (the hints run `is_quad_residue`
first: no second Euler test); Euler's criterion; Python's built-in modular inverse. Other
moduli fall back to cairo-lang's own functions.

2. Struct lookups of `CairoStructFactory` (`starkware.cairo.common.structs`). Every syscall reads
its request through the factory, which searched the struct's definition and built a new
namedtuple class (with `eval`) each time: about 60 classes per transfer. Both are memoized per
factory and struct name; the identifiers a factory reads never change after it is made.

3. The Pedersen hash behind the pedersen builtin and `get_storage_var_address` (fastecdsa point
multiplications in Python, ~1 ms a hash): `fast_stark_crypto.pedersen_hash` (~15 us) for field
elements; anything else goes to cairo-lang's function, which refuses it as before.

4. The EC-op builtin's `ec_op_impl` (P + m * Q, 256 doublings and the additions m's bits ask for,
in affine coordinates: one modular inverse, ~80 us here, per operation). The same steps in
Jacobian coordinates, with one inverse at the end, and the same checks at the same points: before
each step the running sum and the doubled point must not share x, and a doubled point must not
have y = 0; the same AssertionErrors otherwise. The doublings of a Q seen before (the signature
check's generator, an account's public key) are kept, in affine form, for up to 64 points Q.

5. The Poseidon permutation behind `poseidon_hash_many` (transaction and block hashes; ~15
permutations per invoke hash, ~0.5 ms each in cairo-lang's Python and ~0.4 ms in poseidon-py's):
starknet-pathfinder-crypto's compiled permutation (~0.07 ms) for integers (reduced first, as
cairo-lang's first round does), cairo-lang's for anything else.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import fast_stark_crypto
import starknet_pathfinder_crypto
from starkware.cairo.common import cairo_function_runner
from starkware.cairo.common import poseidon_hash as cairo_poseidon
from starkware.cairo.common.structs import CairoStructFactory
from starkware.cairo.lang.builtins.ec import ec_op_builtin_runner
from starkware.cairo.lang.vm import cairo_runner
from starkware.crypto.signature import fast_pedersen_hash
from starkware.python import math_utils
from starkware.starknet.public import abi

STARK_PRIME = 2**251 + 17 * 2**192 + 1
TWO_ADICITY = 192
ODD_PART = (STARK_PRIME - 1) >> TWO_ADICITY
NON_RESIDUE = 3
WINDOW = 8
GENERATOR = pow(NON_RESIDUE, ODD_PART, STARK_PRIME)  # order 2^192
_INVERSE = pow(GENERATOR, -1, STARK_PRIME)


def _powers(base: int) -> list[int]:
    """base^0 .. base^255 modulo the Stark prime."""
    powers = [1]
    for _ in range((1 << WINDOW) - 1):
        powers.append(powers[-1] * base % STARK_PRIME)
    return powers


DIGITS = TWO_ADICITY // WINDOW
TOP = TWO_ADICITY - WINDOW  # 184
# The 2^8-th roots of unity, by exponent: GENERATOR^(k * 2^184) -> k.
DIGIT_OF = {root: k for k, root in enumerate(_powers(pow(GENERATOR, 1 << TOP, STARK_PRIME)))}
# STRIP[m][d] = GENERATOR^(-d * 2^(184 - 8m)): digit d found m positions lower, seen from the
# power of n^q that exposes the current digit.
STRIP = [[]] + [_powers(pow(_INVERSE, 1 << (TOP - WINDOW * m), STARK_PRIME))
                for m in range(1, DIGITS)]
# HALF[j][d] = GENERATOR^(-d * 2^(8j) / 2): digit d at position j of x, in GENERATOR^(-x/2)
# (for j = 0, d is even: x is).
HALF = [[pow(_INVERSE, d // 2, STARK_PRIME) for d in range(1 << WINDOW)]] + [
    _powers(pow(_INVERSE, 1 << (WINDOW * j - 1), STARK_PRIME)) for j in range(1, DIGITS)]

_original_sqrt = math_utils.sqrt
_original_is_quad_residue = math_utils.is_quad_residue
_original_div_mod = math_utils.div_mod


def div_mod(n: int, m: int, p: int) -> int:
    """The x < p with (m * x) % p == n; AssertionError if m is not invertible modulo p."""
    try:
        return n * pow(m, -1, p) % p
    except ValueError:
        raise AssertionError(f"{m} has no inverse modulo {p}") from None


def is_quad_residue(n: int, p: int) -> bool:
    """Whether n is a square modulo p (0 counts as one)."""
    if p != STARK_PRIME:
        return _original_is_quad_residue(n, p)
    n %= p
    return n == 0 or pow(n, (p - 1) // 2, p) == 1


def sqrt(n: int, p: int) -> int:
    """The smaller square root of n modulo p; ValueError if n is not a square."""
    if p != STARK_PRIME:
        return _original_sqrt(n, p)
    n %= p
    if n == 0:
        return 0
    # n^q = GENERATOR^x, with x even if and only if n is a square (no separate Euler test: the
    # hints test first); the root is n^((q+1)/2) * GENERATOR^(-x/2). Digit k of x (8 bits) is
    # that of (n^q)^(2^(184 - 8k)) once the lower digits are taken out.
    powers = [pow(n, ODD_PART, p)]  # (n^q)^(2^(8i)), i = 0 .. 23
    for _ in range(DIGITS - 1):
        powers.append(pow(powers[-1], 1 << WINDOW, p))
    digits: list[int] = []
    for position in range(DIGITS):
        value = powers[DIGITS - 1 - position]
        for lower, digit in enumerate(digits):
            value = value * STRIP[position - lower][digit] % p
        digits.append(DIGIT_OF[value])
    if digits[0] % 2:
        raise ValueError(f"{n} is not a square modulo the Stark prime")
    root = pow(n, (ODD_PART + 1) // 2, p)
    for position, digit in enumerate(digits):
        root = root * HALF[position][digit] % p
    return min(root, p - root)


_original_build_struct = CairoStructFactory.build_struct
_original_get_struct_definition = CairoStructFactory.get_struct_definition


def memoized_per_factory(method: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """`method(factory, name)`, computed once per factory and name."""
    attribute = f"_memo_{method.__name__}"

    @functools.wraps(method)
    def memoized(self: Any, name: Any) -> Any:
        memo = self.__dict__.setdefault(attribute, {})
        if name not in memo:
            memo[name] = method(self, name)
        return memo[name]

    return memoized


build_struct = memoized_per_factory(_original_build_struct)
get_struct_definition = memoized_per_factory(_original_get_struct_definition)


_original_pedersen_hash = fast_pedersen_hash.pedersen_hash
PEDERSEN_USERS = (cairo_runner, cairo_function_runner, abi)  # modules that imported it by name


def pedersen_hash(x: int, y: int) -> int:
    """Pedersen hash of two field elements (cairo-lang's check and error for other inputs)."""
    if 0 <= x < STARK_PRIME and 0 <= y < STARK_PRIME:
        return fast_stark_crypto.pedersen_hash(x, y)
    return _original_pedersen_hash(x, y)


_original_ec_op_impl = ec_op_builtin_runner.ec_op_impl
Jacobian = tuple[int, int, int]


def _double(point: Jacobian, alpha: int, p: int) -> Jacobian:
    x, y, z = point
    yy = y * y % p
    zz = z * z % p
    s = 4 * x * yy % p
    m = (3 * x * x + alpha * zz * zz) % p
    x3 = (m * m - 2 * s) % p
    return x3, (m * (s - x3) - 8 * yy * yy) % p, 2 * y * z % p


def _add(first: Jacobian, second: Jacobian, p: int) -> Jacobian:
    """The sum of two points whose x coordinates differ."""
    x1, y1, z1 = first
    x2, y2, z2 = second
    z1z1, z2z2 = z1 * z1 % p, z2 * z2 % p
    u1, u2 = x1 * z2z2 % p, x2 * z1z1 % p
    s1, s2 = y1 * z2 * z2z2 % p, y2 * z1 * z1z1 % p
    h, r = (u2 - u1) % p, (s2 - s1) % p
    hh = h * h % p
    hhh, v = h * hh % p, u1 * hh % p
    x3 = (r * r - hhh - 2 * v) % p
    return x3, (r * (v - x3) - s1 * hhh) % p, z1 * z2 * h % p


MAX_CACHED_DOUBLINGS = 64
_cached_doublings: dict[tuple[int, ...], list[Jacobian]] = {}
_seen_once: set[tuple[int, ...]] = set()


def _doublings(q_x: int, q_y: int, alpha: int, prime: int, height: int) -> Iterator[Jacobian]:
    """Q, 2Q, 4Q, ... (`height` points). The second time a Q comes (the signature check's
    generator and an account's public key come back each time) they are kept in affine form."""
    key = (q_x, q_y, alpha, prime, height)
    cached = _cached_doublings.get(key)
    if cached is not None:
        return iter(cached)
    if key in _seen_once:
        points = _affine_doublings(q_x, q_y, alpha, prime, height)
        if points is not None:
            if len(_cached_doublings) >= MAX_CACHED_DOUBLINGS:
                _cached_doublings.clear()
            _cached_doublings[key] = points
            return iter(points)
    elif len(_seen_once) < 16 * MAX_CACHED_DOUBLINGS:
        _seen_once.add(key)
    return _jacobian_doublings(q_x, q_y, alpha, prime, height)


def _jacobian_doublings(q_x: int, q_y: int, alpha: int, prime: int,
                        height: int) -> Iterator[Jacobian]:
    point = (q_x, q_y, 1)
    for _ in range(height):
        yield point
        point = _double(point, alpha, prime)


def _affine_doublings(q_x: int, q_y: int, alpha: int, prime: int,
                      height: int) -> list[Jacobian] | None:
    """The doublings as (x, y, 1); None if one has y = 0 or is the point at infinity (the
    step-by-step path then fails where cairo-lang does)."""
    points = []
    for x, y, z in _jacobian_doublings(q_x, q_y, alpha, prime, height):
        if z % prime == 0 or y % prime == 0:
            return None
        z_inverse = pow(z, -1, prime)
        zz_inverse = z_inverse * z_inverse % prime
        points.append((x * zz_inverse % prime, y * zz_inverse * z_inverse % prime, 1))
    return points


def ec_op_impl(p_x: int, p_y: int, q_x: int, q_y: int, m: int, alpha: int, prime: int,
               height: int) -> tuple[int, int]:
    """P + m * Q as the EC-op builtin computes it (see part 4 above)."""
    partial = (p_x, p_y, 1)
    added = False
    orig_m = m
    for doubled in _doublings(q_x, q_y, alpha, prime, height):
        xd, yd, zd = doubled
        xp, _, zp = partial
        assert (xd * zp * zp - xp * zd * zd) % prime != 0, (
            "Cannot apply EC operation: computation reached two points with the same x coordinate."
            "\nAttempting to compute P + m * Q where:\n"
            f"P = {(p_x, p_y)}\n"
            f"m = {orig_m}\n"
            f"Q = {(q_x, q_y)}."
        )
        if m & 1:
            partial, added = _add(partial, doubled, prime), True
        assert yd % prime != 0
        m >>= 1
    if not added:
        return p_x, p_y
    x, y, z = partial
    z_inverse = pow(z, -1, prime)
    zz_inverse = z_inverse * z_inverse % prime
    return x * zz_inverse % prime, y * zz_inverse * z_inverse % prime


_original_poseidon_perm = cairo_poseidon.poseidon_perm


def poseidon_perm(*elements: int) -> list[int]:
    """The Poseidon permutation of three integers (cairo-lang's for other inputs). Its first
    round reduces them modulo the prime, as they are here: `poseidon_hash_many` adds a block to
    the state without reducing, and one permutation in ~3 got a sum past the prime."""
    if len(elements) == 3 and all(type(element) is int for element in elements):
        return starknet_pathfinder_crypto.poseidon_perm(*(e % STARK_PRIME for e in elements))
    return _original_poseidon_perm(*elements)


def install(structs: bool = True, pedersen: bool = True, ec_op: bool = True,
            poseidon: bool = True) -> None:
    """Make cairo-lang use these functions (idempotent); `structs`, `pedersen`, `ec_op` and
    `poseidon` False leave parts 2 to 5 out."""
    math_utils.div_mod = div_mod
    math_utils.is_quad_residue = is_quad_residue
    math_utils.sqrt = sqrt
    CairoStructFactory.build_struct = build_struct if structs else _original_build_struct
    CairoStructFactory.get_struct_definition = (
        get_struct_definition if structs else _original_get_struct_definition)
    for module in PEDERSEN_USERS:
        module.pedersen_hash = pedersen_hash if pedersen else _original_pedersen_hash
    ec_op_builtin_runner.ec_op_impl = ec_op_impl if ec_op else _original_ec_op_impl
    cairo_poseidon.poseidon_perm = poseidon_perm if poseidon else _original_poseidon_perm


def uninstall() -> None:
    """Restore cairo-lang's own functions (for side-by-side measurements)."""
    math_utils.div_mod = _original_div_mod
    math_utils.is_quad_residue = _original_is_quad_residue
    math_utils.sqrt = _original_sqrt
    CairoStructFactory.build_struct = _original_build_struct
    CairoStructFactory.get_struct_definition = _original_get_struct_definition
    for module in PEDERSEN_USERS:
        module.pedersen_hash = _original_pedersen_hash
    ec_op_builtin_runner.ec_op_impl = _original_ec_op_impl
    cairo_poseidon.poseidon_perm = _original_poseidon_perm
