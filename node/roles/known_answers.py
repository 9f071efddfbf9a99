"""Synthetic jobs: example programs whose answer a validator computes in microseconds.

A synthetic job must look like an organic one to the executor (the same example programs,
ordinary inputs) and must not be answerable without running it: its input is drawn fresh and
bound to the executor it is meant for (a seed `poseidon(executor, nonce)` with a random 128-bit
nonce), so a reply cannot be precomputed nor copied from another executor's run. The validator
knows the answer from a Python model of the program (tested equal to the Cairo run).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starknet_pathfinder_crypto import poseidon_hash, poseidon_hash_many

from cairo_jobs.examples import EXAMPLES
from p2p.stark import STARK_PRIME


@dataclass(frozen=True)
class KnownAnswerProgram:
    """An example program and a Python model of its output."""

    name: str
    """The example's name (cairo_jobs/examples/<name>.cairo)."""
    make_input: Callable[[int, int], dict[str, int]]
    """(seed, size) -> the program input."""
    answer: Callable[[dict[str, int]], list[int]]
    """The program's output for an input."""


def _long_loop(program_input: dict[str, int]) -> list[int]:
    n, x = program_input["n"], program_input["x"]
    for i in range(n):
        x = (x * x * x + i + 1) % STARK_PRIME
    return [n, x]


def _poseidon_chain(program_input: dict[str, int]) -> list[int]:
    n, h = program_input["n"], program_input["seed"]
    for i in range(n):
        h = poseidon_hash(h, i)
    return [n, h]


PROGRAMS: dict[str, KnownAnswerProgram] = {
    program.name: program
    for program in (
        KnownAnswerProgram("long_loop", lambda seed, n: {"n": n, "x": seed}, _long_loop),
        KnownAnswerProgram(
            "poseidon_chain", lambda seed, n: {"seed": seed, "n": n}, _poseidon_chain
        ),
    )
}


@dataclass(frozen=True)
class SyntheticTask:
    """One synthetic job for one executor: what to run and the answer to expect."""

    program: str
    layout: str
    program_input: dict[str, int]
    executor: int
    expected_output: tuple[int, ...]

    @property
    def input_json(self) -> bytes:
        return json.dumps(self.program_input).encode()


def draw_task(
    executor: int, programs: Sequence[str], size: int, nonce: int | None = None
) -> SyntheticTask:
    """A fresh task for `executor`: a random program of `programs`, `size` iterations, and a
    seed bound to the executor. `nonce` (default: 128 random bits) makes it unpredictable."""
    if not programs:
        raise ValueError("no synthetic programs configured")
    unknown = [name for name in programs if name not in PROGRAMS]
    if unknown:
        raise ValueError(f"no known-answer model for {unknown}; choose from {sorted(PROGRAMS)}")
    program = PROGRAMS[programs[secrets.randbelow(len(programs))]]
    nonce = secrets.randbits(128) if nonce is None else nonce
    seed = poseidon_hash_many([executor, nonce])
    program_input = program.make_input(seed, size)
    return SyntheticTask(
        program=program.name,
        layout=EXAMPLES[program.name].layout,
        program_input=program_input,
        executor=executor,
        expected_output=tuple(program.answer(program_input)),
    )
