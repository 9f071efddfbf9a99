"""Merkle commitments with BLAKE2s-256: leaves are hashed byte strings, nodes hash left‖right."""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import blake2s

import numpy as np

from cairo_jobs.native import field

DIGEST_SIZE = 32


def hash_leaf(data: bytes) -> bytes:
    """A leaf's hash: BLAKE2s-256 of its bytes."""
    return blake2s(data).digest()


def hash_node(left: bytes, right: bytes) -> bytes:
    """An inner node's hash: BLAKE2s-256 of the two children's hashes."""
    return blake2s(left + right).digest()


def row_leaves(columns: Sequence[np.ndarray]) -> list[bytes]:
    """Row i's leaf data: each column's element i as 32 big-endian bytes, in column order."""
    blocks = [
        np.frombuffer(field.canonical_bytes(column), dtype=np.uint8).reshape(-1, 32)
        for column in columns
    ]
    rows = np.ascontiguousarray(np.concatenate(blocks, axis=1))
    width = rows.shape[1]
    raw = rows.tobytes()
    return [raw[k : k + width] for k in range(0, len(raw), width)]


class MerkleTree:
    """A tree over a power-of-two number of leaves; opens any leaf with its authentication path."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        if not leaves or len(leaves) & (len(leaves) - 1):
            raise ValueError(f"a Merkle tree needs a power-of-two leaf count, got {len(leaves)}")
        self.levels = [[hash_leaf(leaf) for leaf in leaves]]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append([hash_node(below[k], below[k + 1]) for k in range(0, len(below), 2)])

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    def path(self, index: int) -> list[bytes]:
        """The sibling hashes from the leaf up to (not including) the root."""
        siblings = []
        for level in self.levels[:-1]:
            siblings.append(level[index ^ 1])
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
