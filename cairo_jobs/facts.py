"""The fact of a Cairo run, computed in this one place for contracts, validators and executors."""

from __future__ import annotations

from collections.abc import Sequence

from starknet_py.hash.hash_method import HashMethod

STARK_PRIME = 2**251 + 17 * 2**192 + 1


def fact_hash(program_hash: int, output: Sequence[int]) -> int:
    """fact = poseidon_hash_many([program_hash, poseidon_hash_many(output)]), Starknet's Poseidon.

    Every value must be a felt in [0, STARK_PRIME); anything else raises ValueError.
    """
    for value in (program_hash, *output):
        if not isinstance(value, int) or not 0 <= value < STARK_PRIME:
            raise ValueError(f"{value!r} is not a felt; reduce values modulo the Stark prime")
    poseidon = HashMethod.POSEIDON
    return poseidon.hash_many([program_hash, poseidon.hash_many(list(output))])
