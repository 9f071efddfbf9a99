"""Merkle commitments and the Fiat–Shamir channel."""

from __future__ import annotations

import pytest

from cairo_jobs.native import field
from cairo_jobs.native.channel import Channel
from cairo_jobs.native.merkle import MerkleTree, row_leaves, verify_path

LEAVES = [bytes([i]) * (i + 1) for i in range(16)]


def test_every_leaf_opens_against_the_root() -> None:
    tree = MerkleTree(LEAVES)
    for index, leaf in enumerate(LEAVES):
        assert verify_path(tree.root, 16, index, leaf, tree.path(index))


def test_tampered_openings_fail() -> None:
    tree = MerkleTree(LEAVES)
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
        MerkleTree(LEAVES[:3])
    with pytest.raises(ValueError, match="power-of-two"):
        MerkleTree([])


def test_row_leaves_concatenate_columns_big_endian() -> None:
    a, b = field.from_ints([1, 2]), field.from_ints([3, 4])
    assert row_leaves([a, b]) == [
        (1).to_bytes(32, "big") + (3).to_bytes(32, "big"),
        (2).to_bytes(32, "big") + (4).to_bytes(32, "big"),
    ]


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
