"""Merkle commitments with BLAKE2s-256: a leaf hashes its bytes, a node hashes left ‖ right."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numba
import numpy as np
from numba.typed import List

from cairo_jobs.native import blake2s, field

DIGEST_SIZE = 32
_BLOCK = 1 << 13  # rows packed at a time for a tree over columns


def hash_leaf(data: bytes) -> bytes:
    """A leaf's hash: BLAKE2s-256 of its bytes."""
    return hashlib.blake2s(data).digest()


def hash_node(left: bytes, right: bytes) -> bytes:
    """An inner node's hash: BLAKE2s-256 of the two children's hashes."""
    return hashlib.blake2s(left + right).digest()


def row_leaves(columns: Sequence[np.ndarray]) -> np.ndarray:
    """Leaf data uint8[n, 32·k]: row i holds each column's element i as 32 big-endian bytes."""
    n = columns[0].shape[0] if columns else 0
    words = np.empty((n, field.LIMBS * len(columns)), dtype=np.uint32)
    if n:
        _pack_rows(List(columns), words)
    return words.view(np.uint8)


@numba.njit(parallel=True, cache=True)
def _pack_rows(columns, words):
    """Each element out of Montgomery form, its limbs most significant first, bytes swapped so
    that the words read as big-endian bytes."""
    n = words.shape[0]
    one = np.zeros((1, field.LIMBS), np.uint32)
    one[0, 0] = 1
    for c in numba.prange((n + field.CHUNK - 1) // field.CHUNK):
        plain = np.empty((1, field.LIMBS), np.uint32)
        for i in range(c * field.CHUNK, min(n, (c + 1) * field.CHUNK)):
            for k in range(len(columns)):
                field.mul_into(columns[k], i, one, 0, plain, 0)
                for limb in range(field.LIMBS):
                    v = plain[0, field.LIMBS - 1 - limb]
                    words[i, field.LIMBS * k + limb] = (
                        (v >> 24) | ((v >> 8) & 0xFF00) | ((v << 8) & 0xFF0000) | (v << 24)
                    )


class MerkleTree:
    """A tree over a power-of-two number of equal-length leaves (rows of a uint8 array); opens
    any leaf with its authentication path. Hashing is batched (see `blake2s`)."""

    def __init__(self, leaves: np.ndarray) -> None:
        self._build(blake2s.hash_rows(leaves))

    @classmethod
    def of_columns(cls, columns: Sequence[np.ndarray]) -> MerkleTree:
        """The tree over `row_leaves(columns)`, packed and hashed a block of rows at a time."""
        n = columns[0].shape[0]
        hashes = [
            blake2s.hash_rows(row_leaves([column[start : start + _BLOCK] for column in columns]))
            for start in range(0, n, _BLOCK)
        ]
        tree = cls.__new__(cls)
        tree._build(np.concatenate(hashes))
        return tree

    def _build(self, leaf_hashes: np.ndarray) -> None:
        n = leaf_hashes.shape[0]
        if n == 0 or n & (n - 1):
            raise ValueError(f"a Merkle tree needs a power-of-two leaf count, got {n}")
        self.levels = [leaf_hashes]
        while self.levels[-1].shape[0] > 1:
            below = self.levels[-1]
            self.levels.append(
                blake2s.hash_rows(below.reshape(below.shape[0] // 2, 2 * DIGEST_SIZE))
            )

    @property
    def root(self) -> bytes:
        return self.levels[-1][0].tobytes()

    def path(self, index: int) -> list[bytes]:
        """The sibling hashes from the leaf up to (not including) the root."""
        siblings = []
        for level in self.levels[:-1]:
            siblings.append(level[index ^ 1].tobytes())
            index >>= 1
        return siblings


def verify_path(root: bytes, n_leaves: int, index: int, leaf: bytes, path: Sequence[bytes]) -> bool:
    """Whether `leaf` is leaf `index` of the tree of `n_leaves` leaves with this root."""
    if not 0 <= index < n_leaves or len(path) != n_leaves.bit_length() - 1:
        return False
    node = hash_leaf(leaf)
    for sibling in path:
        node = hash_node(node, sibling) if index % 2 == 0 else hash_node(sibling, node)
        index >>= 1
    return node == root
