"""Number-theoretic transforms over power-of-two subgroups and their cosets; Horner evaluation.

Arrays are field arrays (see `field`), in natural order: evaluation i is at offset·w^i.
"""

from __future__ import annotations

import functools

import numba
import numpy as np

from cairo_jobs.native import field
from cairo_jobs.native.field import CHUNK, LIMBS, P


def log2_exact(n: int) -> int:
    """log2(n) for a power of two n ≥ 1; ValueError otherwise."""
    if n < 1 or n & (n - 1):
        raise ValueError(f"length {n} is not a power of two")
    return n.bit_length() - 1


def _bit_reversed(n: int) -> np.ndarray:
    log_n = log2_exact(n)
    index = np.arange(n, dtype=np.int64)
    reversed_index = np.zeros(n, dtype=np.int64)
    for bit in range(log_n):
        reversed_index |= ((index >> bit) & 1) << (log_n - 1 - bit)
    return reversed_index


@numba.njit(parallel=True, cache=True)
def _butterflies(a, twiddles, h):
    """In-place radix-2 decimation-in-time stages over bit-reversed input, from span h on."""
    n = a.shape[0]
    half_n = n // 2
    while h < n:
        stride = n // (2 * h)
        for c in numba.prange((half_n + CHUNK - 1) // CHUNK):
            for pair in range(c * CHUNK, min(half_n, (c + 1) * CHUNK)):
                j = pair % h
                top = (pair // h) * 2 * h + j
                field.butterfly(a, top, top + h, twiddles, j * stride)
        h *= 2


@functools.lru_cache(maxsize=16)
def _powers(x: int, n: int, start: int = 1) -> np.ndarray:
    """start·x^0 … start·x^(n−1) (twiddles, coset scalings), kept for the next transform of
    the same size: every column of a table reuses them (read-only)."""
    table = field.powers(x, n, start)
    table.flags.writeable = False
    return table


def _transform(values: np.ndarray, root: int) -> np.ndarray:
    n = values.shape[0]
    if n == 1:
        return values.copy()
    out = np.ascontiguousarray(values[_bit_reversed(n)])
    _butterflies(out, _powers(root, n // 2), 1)
    return out


def evaluate(coefficients: np.ndarray, offset: int = 1) -> np.ndarray:
    """The polynomial's values on offset·<w> (w of order len(coefficients))."""
    n = coefficients.shape[0]
    scaled = coefficients if offset == 1 else field.mul(coefficients, field.powers(offset, n))
    return _transform(scaled, field.root_of_unity(log2_exact(n)))


def interpolate(values: np.ndarray, offset: int = 1) -> np.ndarray:
    """The coefficients of the polynomial of degree < n taking `values` on offset·<w>."""
    n = values.shape[0]
    inverse_root = pow(field.root_of_unity(log2_exact(n)), -1, P)
    coefficients = _transform(values, inverse_root)
    n_inverse = pow(n, -1, P)
    return field.mul(coefficients, _powers(pow(offset, -1, P), n, n_inverse))


def extend(coefficients: np.ndarray, size: int, offset: int) -> np.ndarray:
    """Low-degree extension: the polynomial's values on offset·<w_size> (size ≥ its length).

    Zero-padded to `size` and bit-reversed, coefficient bitrev(j) sits at position blowup·j and
    the rest are zeros, so the first log2(blowup) stages would only copy it across its group of
    blowup positions: the copies are made directly and the butterflies start after them.
    """
    if size < coefficients.shape[0]:
        raise ValueError(f"cannot extend {coefficients.shape[0]} coefficients to {size} points")
    length = 1 << (coefficients.shape[0] - 1).bit_length()  # padded to a power of two
    padded = np.zeros((length, LIMBS), dtype=np.uint32)
    padded[: coefficients.shape[0]] = coefficients
    blowup = size // length
    scaled = padded if offset == 1 else field.mul(padded, _powers(offset, length))
    out = np.repeat(scaled[_bit_reversed(length)], blowup, axis=0)
    root = field.root_of_unity(log2_exact(size))
    _butterflies(out, _powers(root, size // 2), blowup)
    return out


@numba.njit(cache=True)
def _horner(coefficients, point, out):
    out[0] = 0
    for i in range(coefficients.shape[0] - 1, -1, -1):
        field.mul_into(out, 0, point, 0, out, 0)
        field.add_into(out, 0, coefficients, i, out, 0)


def evaluate_at(coefficients: np.ndarray, point: int) -> int:
    """The polynomial's value at one point."""
    out = np.zeros((1, LIMBS), dtype=np.uint32)
    _horner(coefficients, field.from_ints([point]), out)
    return field.to_ints(out)[0]
