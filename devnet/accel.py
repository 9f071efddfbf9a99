"""Faster equivalents of three modular-arithmetic helpers of cairo-lang, installed in its module.

Profiling an invoke showed its ECDSA check dominating: the Cairo 1 `check_ecdsa_signature` hints
call `starkware.python.math_utils.sqrt` / `is_quad_residue`, and the EC-op builtin computes
slopes with `div_mod`, all through sympy (about 40 ms per square root modulo the Stark prime,
whose p - 1 has 2^192 as a factor). The replacements give the same results: for the Stark prime, a
square root from the discrete logarithm of n^q in the 2^192-order subgroup, found 8 bits at a
time with precomputed tables (about 2,300 squarings instead of sympy's ~18,000); Euler's
criterion; Python's built-in modular inverse. Other moduli fall back to cairo-lang's own functions.
"""

from __future__ import annotations

from starkware.python import math_utils

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


# The 2^8-th roots of unity, by exponent: GENERATOR^(k * 2^184) -> k.
DIGIT_OF = {root: k for k, root in enumerate(
    _powers(pow(GENERATOR, 1 << (TWO_ADICITY - WINDOW), STARK_PRIME)))}
# UNDO[j][d] = GENERATOR^(-d * 2^(8j)), to strip digit d at position j from an exponent.
UNDO = [_powers(pow(_INVERSE, 1 << (WINDOW * j), STARK_PRIME))
        for j in range(TWO_ADICITY // WINDOW)]

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
    if pow(n, (p - 1) // 2, p) != 1:
        raise ValueError(f"{n} is not a square modulo the Stark prime")
    # n^q = GENERATOR^x with x even; the root is n^((q+1)/2) * GENERATOR^(-x/2).
    x, rest = 0, pow(n, ODD_PART, p)
    for position in range(TWO_ADICITY // WINDOW):
        probe = rest
        for _ in range(TWO_ADICITY - WINDOW * (position + 1)):
            probe = probe * probe % p
        digit = DIGIT_OF[probe]
        x += digit << (WINDOW * position)
        rest = rest * UNDO[position][digit] % p
    root = pow(n, (ODD_PART + 1) // 2, p) * pow(_INVERSE, x // 2, p) % p
    return min(root, p - root)


def install() -> None:
    """Make cairo-lang's hints and builtins use these functions (idempotent)."""
    math_utils.div_mod = div_mod
    math_utils.is_quad_residue = is_quad_residue
    math_utils.sqrt = sqrt


def uninstall() -> None:
    """Restore cairo-lang's own functions (for side-by-side measurements)."""
    math_utils.div_mod = _original_div_mod
    math_utils.is_quad_residue = _original_is_quad_residue
    math_utils.sqrt = _original_sqrt
