"""Merkle commitments and the Fiat–Shamir channel."""

from __future__ import annotations

import hashlib
import random

import numpy as np
import pytest

from cairo_jobs.native import blake2s, field
from cairo_jobs.native.channel import Channel
from cairo_jobs.native.field import P
from cairo_jobs.native.merkle import MerkleTree, row_leaves, verify_path

LEAF_ARRAY = np.random.default_rng(1).integers(0, 256, (16, 96), dtype=np.uint8)
LEAVES = [row.tobytes() for row in LEAF_ARRAY]


@pytest.mark.parametrize("length", [0, 4, 32, 60, 64, 68, 128, 132, 1000])
def test_batched_blake2s_matches_hashlib(length: int) -> None:
    messages = np.random.default_rng(length).integers(0, 256, (40, length), dtype=np.uint8)
    digests = blake2s.hash_rows(messages)
    assert [d.tobytes() for d in digests] == [
        hashlib.blake2s(m.tobytes()).digest() for m in messages
    ]


def test_batched_blake2s_refuses_odd_shapes() -> None:
    with pytest.raises(ValueError, match="length % 4"):
        blake2s.hash_rows(np.zeros((3, 5), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        blake2s.hash_rows(np.zeros((3, 8), dtype=np.uint32))


def test_every_leaf_opens_against_the_root() -> None:
    tree = MerkleTree(LEAF_ARRAY)
    for index, leaf in enumerate(LEAVES):
        assert verify_path(tree.root, 16, index, leaf, tree.path(index))


def test_tampered_openings_fail() -> None:
    tree = MerkleTree(LEAF_ARRAY)
    path = tree.path(5)
    assert not verify_path(tree.root, 16, 5, LEAVES[5] + b"x", path)
    assert not verify_path(tree.root, 16, 4, LEAVES[5], path)
    assert not verify_path(tree.root, 16, 21, LEAVES[5], path)
    assert not verify_path(tree.root, 16, 5, LEAVES[5], path[:-1])
    for level in range(len(path)):
        flipped = [*path]
        flipped[level] = bytes([flipped[level][0] ^ 1]) + flipped[level][1:]
        assert not verify_path(tree.root, 16, 5, LEAVES[5], flipped)


def test_tree_size_must_be_a_power_of_two() -> None:
    with pytest.raises(ValueError, match="power-of-two"):
        MerkleTree(LEAF_ARRAY[:3])
    with pytest.raises(ValueError, match="power-of-two"):
        MerkleTree(LEAF_ARRAY[:0])


def test_row_leaves_concatenate_columns_big_endian() -> None:
    a, b = field.from_ints([1, 2]), field.from_ints([3, 4])
    assert [row.tobytes() for row in row_leaves([a, b])] == [
        (1).to_bytes(32, "big") + (3).to_bytes(32, "big"),
        (2).to_bytes(32, "big") + (4).to_bytes(32, "big"),
    ]


def test_tree_over_columns_equals_tree_over_packed_rows() -> None:
    """Packed and hashed block by block (2 blocks here), the tree is the one over all rows."""
    rng = random.Random(5)
    columns = [field.from_ints(rng.randrange(P) for _ in range(1 << 14)) for _ in range(3)]
    tree = MerkleTree.of_columns(columns)
    assert tree.root == MerkleTree(row_leaves(columns)).root
    assert len(tree.path(12345)) == 14


def test_channels_agree_and_diverge_on_any_difference() -> None:
    prover, verifier, other = Channel(b"statement"), Channel(b"statement"), Channel(b"statement")
    for channel in (prover, verifier):
        channel.absorb(b"root")
    other.absorb(b"rooT")
    draws = [prover.draw_felt(), prover.draw_index(64)]
    assert draws == [verifier.draw_felt(), verifier.draw_index(64)]
    assert other.draw_felt() != draws[0]
    assert Channel(b"statement!").draw_felt() != Channel(b"statement").draw_felt()


def test_proof_of_work() -> None:
    prover, verifier = Channel(b"s"), Channel(b"s")
    nonce = prover.grind(8)
    assert not any(Channel(b"s").check_work(smaller, 8) for smaller in range(nonce))
    assert not Channel(b"s").check_work(nonce, 64)
    assert not Channel(b"s").check_work(-1, 8)
    assert verifier.check_work(nonce, 8)
    assert prover.draw_felt() == verifier.draw_felt()  # both absorbed the nonce


@pytest.mark.parametrize(("seed", "bits"), [(b"a", 0), (b"b", 1), (b"c", 10), (b"d", 13)])
def test_grinding_kernel_finds_the_smallest_nonce(seed: bytes, bits: int) -> None:
    nonce = Channel(seed).grind(bits)
    assert Channel(seed).check_work(nonce, bits)
    assert not any(Channel(seed).check_work(smaller, bits) for smaller in range(nonce))


def test_grinding_refuses_a_bad_prefix_or_bit_count() -> None:
    with pytest.raises(ValueError, match="33 bytes"):
        blake2s.first_nonce(bytes(32), 8)
    with pytest.raises(ValueError, match=r"bits in 0\.\.64"):
        blake2s.first_nonce(bytes(33), 65)
