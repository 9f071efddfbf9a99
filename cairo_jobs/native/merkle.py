"""Merkle commitments with BLAKE2s-256: a leaf hashes its bytes, a node hashes left ‖ right."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from cairo_jobs.native import blake2s, field

DIGEST_SIZE = 32


def hash_leaf(data: bytes) -> bytes:
    """A leaf's hash: BLAKE2s-256 of its bytes."""
    return hashlib.blake2s(data).digest()


def hash_node(left: bytes, right: bytes) -> bytes:
    """An inner node's hash: BLAKE2s-256 of the two children's hashes."""
    return hashlib.blake2s(left + right).digest()


def row_leaves(columns: Sequence[np.ndarray]) -> np.ndarray:
    """Leaf data uint8[n, 32·k]: row i holds each column's element i as 32 big-endian bytes."""
    blocks = [
        np.frombuffer(field.canonical_bytes(column), dtype=np.uint8).reshape(-1, 32)
        for column in columns
    ]
    return np.ascontiguousarray(np.concatenate(blocks, axis=1))


class MerkleTree:
    """A tree over a power-of-two number of equal-length leaves (rows of a uint8 array); opens
    any leaf with its authentication path. Hashing is batched (see `blake2s`)."""

    def __init__(self, leaves: np.ndarray) -> None:
        n = leaves.shape[0]
        if n == 0 or n & (n - 1):
            raise ValueError(f"a Merkle tree needs a power-of-two leaf count, got {n}")
        self.levels = [blake2s.hash_rows(leaves)]
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
