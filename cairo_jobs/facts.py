"""The fact of a Cairo run, computed in this one place for contracts, validators and executors."""

from __future__ import annotations

from collections.abc import Sequence

from starknet_py.hash.hash_method import HashMethod

STARK_PRIME = 2**251 + 17 * 2**192 + 1


def fact_hash(program_hash: int, output: Sequence[int]) -> int:
    """fact = poseidon_hash_many([program_hash, poseidon_hash_many(output)]), Starknet's Poseidon.

    Every value must be a felt in [0, STARK_PRIME); anything else raises ValueError.
    """
    return fact_of_digest(program_hash, output_digest(output))


def output_digest(output: Sequence[int]) -> int:
    """poseidon_hash_many(output): what the fact binds of the output, and what a job paid on its
    digest (output volumes) shows on chain. Raises ValueError for a value that is not a felt."""
    _check_felts(output)
    return HashMethod.POSEIDON.hash_many(list(output))


def fact_of_digest(program_hash: int, digest: int) -> int:
    """The fact of a run of `program_hash` whose output has `output_digest` `digest`."""
    _check_felts((program_hash, digest))
    return HashMethod.POSEIDON.hash_many([program_hash, digest])


def _check_felts(values: Sequence[int]) -> None:
    for value in values:
        if not isinstance(value, int) or not 0 <= value < STARK_PRIME:
            raise ValueError(f"{value!r} is not a felt; reduce values modulo the Stark prime")
