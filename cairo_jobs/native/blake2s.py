"""BLAKE2s-256 (RFC 7693, no key) of many equal-length messages at once, compiled with numba.

Gives the same digests as hashlib.blake2s; the prover hashes Merkle leaves and nodes with it.
"""

from __future__ import annotations

import numba
import numpy as np

from cairo_jobs.native.field import CHUNK

_IV = np.array(
    [
        0x6A09E667,
        0xBB67AE85,
        0x3C6EF372,
        0xA54FF53A,
        0x510E527F,
        0x9B05688C,
        0x1F83D9AB,
        0x5BE0CD19,
    ],
    dtype=np.uint64,
)
_SIGMA = np.array(
    [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
        [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
        [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
        [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
        [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
        [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
        [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
        [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
        [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
    ],
    dtype=np.int64,
)
_MASK = np.uint64(0xFFFFFFFF)
_PARAMETER_BLOCK = np.uint64(0x01010020)  # digest 32 bytes, no key, fanout 1, depth 1


@numba.njit(cache=True, inline="always")
def _rotr(x, n):
    return ((x >> np.uint64(n)) | (x << np.uint64(32 - n))) & _MASK


@numba.njit(cache=True, inline="always")
def _g(a, b, c, d, x, y):
    a = (a + b + x) & _MASK
    d = _rotr(d ^ a, 16)
    c = (c + d) & _MASK
    b = _rotr(b ^ c, 12)
    a = (a + b + y) & _MASK
    d = _rotr(d ^ a, 8)
    c = (c + d) & _MASK
    b = _rotr(b ^ c, 7)
    return a, b, c, d


@numba.njit(cache=True)
def _compress(h, m, counter, last):
    """One block into the chaining value h (all uint64 words holding 32 bits)."""
    v0, v1, v2, v3, v4, v5, v6, v7 = h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]
    v8, v9, v10, v11 = _IV[0], _IV[1], _IV[2], _IV[3]
    v12 = _IV[4] ^ (np.uint64(counter) & _MASK)
    v13 = _IV[5] ^ (np.uint64(counter) >> np.uint64(32))
    v14 = _IV[6] ^ _MASK if last else _IV[6]
    v15 = _IV[7]
    for r in range(10):
        s = _SIGMA[r]
        v0, v4, v8, v12 = _g(v0, v4, v8, v12, m[s[0]], m[s[1]])
        v1, v5, v9, v13 = _g(v1, v5, v9, v13, m[s[2]], m[s[3]])
        v2, v6, v10, v14 = _g(v2, v6, v10, v14, m[s[4]], m[s[5]])
        v3, v7, v11, v15 = _g(v3, v7, v11, v15, m[s[6]], m[s[7]])
        v0, v5, v10, v15 = _g(v0, v5, v10, v15, m[s[8]], m[s[9]])
        v1, v6, v11, v12 = _g(v1, v6, v11, v12, m[s[10]], m[s[11]])
        v2, v7, v8, v13 = _g(v2, v7, v8, v13, m[s[12]], m[s[13]])
        v3, v4, v9, v14 = _g(v3, v4, v9, v14, m[s[14]], m[s[15]])
    h[0] ^= v0 ^ v8
    h[1] ^= v1 ^ v9
    h[2] ^= v2 ^ v10
    h[3] ^= v3 ^ v11
    h[4] ^= v4 ^ v12
    h[5] ^= v5 ^ v13
    h[6] ^= v6 ^ v14
    h[7] ^= v7 ^ v15


@numba.njit(cache=True)
def _hash_one(words, length, out, h, m):
    """Digest of one message given as little-endian 32-bit words (length in bytes)."""
    for i in range(8):
        h[i] = _IV[i]
    h[0] ^= _PARAMETER_BLOCK
    n_blocks = max(1, (length + 63) // 64)
    for block in range(n_blocks):
        for w in range(16):
            position = block * 16 + w
            m[w] = np.uint64(words[position]) if position < words.shape[0] else np.uint64(0)
        last = block == n_blocks - 1
        _compress(h, m, length if last else (block + 1) * 64, last)
    for i in range(8):
        out[i] = h[i]


@numba.njit(parallel=True, cache=True)
def _hash_rows(words, length, out):
    n = words.shape[0]
    for c in numba.prange((n + CHUNK - 1) // CHUNK):
        h = np.empty(8, np.uint64)
        m = np.empty(16, np.uint64)
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            _hash_one(words[i], length, out[i], h, m)


def hash_rows(messages: np.ndarray) -> np.ndarray:
    """The BLAKE2s-256 digest (uint8[n, 32]) of each row of a uint8[n, L] array, 4 | L."""
    if messages.ndim != 2 or messages.dtype != np.uint8 or messages.shape[1] % 4:
        raise ValueError("messages must be a uint8 array of shape (n, length), length % 4 == 0")
    words = np.ascontiguousarray(messages).view("<u4")
    out = np.empty((messages.shape[0], 8), dtype="<u4")
    _hash_rows(words, messages.shape[1], out)
    return out.view(np.uint8)


def first_nonce(prefix: bytes, bits: int) -> int:
    """The smallest u64 nonce with BLAKE2s(prefix ‖ nonce, 8 bytes big-endian) starting with
    `bits` (0..64) zero bits; prefix is 33 bytes (the channel's state and a tag)."""
    if len(prefix) != 33 or not 0 <= bits <= 64:
        raise ValueError("the prefix must be 33 bytes and bits in 0..64")
    if bits == 0:
        return 0
    words = np.frombuffer(prefix + bytes(11), dtype="<u4").copy()
    start, batch = 0, 1 << 20
    while start < 2**64:
        found = _search(words, bits, start, min(batch, 2**64 - start))
        if found >= 0:
            return int(found)
        start += batch
    raise ValueError(f"no nonce gives {bits} leading zero bits")


@numba.njit(cache=True)
def _search(words, bits, start, count):
    """The first nonce in [start, start + count) that gives the zero bits, else −1. The 41-byte
    message is the 33-byte prefix then the nonce's bytes 0..7 (big-endian) at bytes 33..40."""
    h = np.empty(8, np.uint64)
    m = np.empty(16, np.uint64)
    out = np.empty(8, np.uint64)
    byte = np.empty(8, np.uint64)
    tag = np.uint64(words[8]) & np.uint64(0xFF)
    for offset in range(count):
        nonce = np.uint64(start) + np.uint64(offset)
        for k in range(8):
            byte[k] = (nonce >> np.uint64(56 - 8 * k)) & np.uint64(0xFF)
        words[8] = tag | _word(0, byte[0], byte[1], byte[2])
        words[9] = _word(byte[3], byte[4], byte[5], byte[6])
        words[10] = byte[7]
        _hash_one(words, 41, out, h, m)
        leading = (_swapped(out[0]) << np.uint64(32)) | _swapped(out[1])  # digest bytes 0..7
        if leading >> np.uint64(64 - bits) == np.uint64(0):
            return np.int64(nonce)
    return np.int64(-1)


@numba.njit(cache=True, inline="always")
def _swapped(word):
    """A digest word's four bytes read big-endian."""
    eight = np.uint64(8)
    return _word(word >> (3 * eight), word >> (2 * eight), word >> eight, word)


@numba.njit(cache=True, inline="always")
def _word(b0, b1, b2, b3):
    """The little-endian 32-bit word of four bytes (each taken mod 256)."""
    mask = np.uint64(0xFF)
    return (
        (np.uint64(b0) & mask)
        | ((np.uint64(b1) & mask) << np.uint64(8))
        | ((np.uint64(b2) & mask) << np.uint64(16))
        | ((np.uint64(b3) & mask) << np.uint64(24))
    )
