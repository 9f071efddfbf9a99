"""Faster equivalents of three modular-arithmetic helpers of cairo-lang, installed in its module.

Profiling an invoke showed its ECDSA check dominating: the Cairo 1 `check_ecdsa_signature` hints
call `starkware.python.math_utils.sqrt` / `is_quad_residue`, and the EC-op builtin computes
slopes with `div_mod`, all through sympy (about 40 ms per square root modulo the Stark prime,
whose p - 1 has 2^192 as a factor). The replacements give the same results: Tonelli-Shanks with
a precomputed table of 2-power roots of unity for the Stark prime, Euler's criterion, and
Python's built-in modular inverse. Other moduli fall back to cairo-lang's own functions.
"""

from __future__ import annotations

from starkware.python import math_utils

STARK_PRIME = 2**251 + 17 * 2**192 + 1
TWO_ADICITY = 192
ODD_PART = (STARK_PRIME - 1) >> TWO_ADICITY
NON_RESIDUE = 3
# ROOTS[k] = g^(2^k) with g = NON_RESIDUE^ODD_PART, a generator of the 2^192-order subgroup.
ROOTS = [pow(NON_RESIDUE, ODD_PART << k, STARK_PRIME) for k in range(TWO_ADICITY)]

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
    root = pow(n, (ODD_PART + 1) // 2, p)
    t = pow(n, ODD_PART, p)
    while t != 1:
        i, t_power = 0, t
        while t_power != 1:
            t_power = t_power * t_power % p
            i += 1
        b = ROOTS[TWO_ADICITY - i - 1]
        t = t * b * b % p
        root = root * b % p
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
