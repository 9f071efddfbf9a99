"""What a Cairo AIR public input commits to: the program's bytecode and its output.

A proof verifies against its public input; these checks tie that public input to a claim, so
a valid proof of some other program or output is refused.
"""

from __future__ import annotations

from typing import Any

from starkware.cairo.lang.compiler.identifier_manager import IdentifierError
from starkware.cairo.lang.compiler.program import Program


def public_memory(public_input: dict[str, Any]) -> dict[int, int]:
    """The public memory cells, address to value."""
    return {int(cell["address"]): int(cell["value"], 16) for cell in public_input["public_memory"]}


def committed_output(public_input: dict[str, Any]) -> list[int]:
    """The values of the output segment, as the proof commits to them."""
    segment = public_input["memory_segments"].get("output")
    if segment is None:
        return []
    memory = public_memory(public_input)
    return [memory[address] for address in range(segment["begin_addr"], segment["stop_ptr"])]


def mismatch(public_input: Any, program: Program, output: list[int]) -> str | None:
    """Why the public input does not commit to this program and output; None when it does."""
    try:
        start = program.get_label("__start__")
    except IdentifierError:
        return "the program has no __start__ label: compile it with --proof_mode"
    try:
        memory = public_memory(public_input)
        # The program segment begins at the initial pc, `__start__`, not at the program's base.
        base = public_input["memory_segments"]["program"]["begin_addr"] - start
        bytecode = [memory.get(base + offset) for offset in range(len(program.data))]
        proven_output = committed_output(public_input)
    except (AttributeError, KeyError, TypeError, ValueError) as err:
        return f"the public input is malformed ({type(err).__name__}: {err})"
    if bytecode != program.data:
        return "the proof is for a different program"
    if proven_output != output:
        return "the proof commits to a different output"
    return None
