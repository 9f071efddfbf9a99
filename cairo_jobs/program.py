"""Compiled Cairo 0 programs: compile source, load compiled JSON, compute the program hash."""

from __future__ import annotations

import json
from typing import Any

from starkware.cairo.bootloaders.hash_program import HashFunction, compute_program_hash_chain
from starkware.cairo.lang.cairo_constants import DEFAULT_PRIME
from starkware.cairo.lang.compiler.cairo_compile import compile_cairo, get_start_code
from starkware.cairo.lang.compiler.constants import START_FILE_NAME
from starkware.cairo.lang.compiler.error_handling import LocationError
from starkware.cairo.lang.compiler.program import Program

from cairo_jobs.failures import FailureReason, RunFailure


class CompileError(ValueError):
    """Cairo source that does not compile; the message is the compiler's, with the location."""


def compile_source(source: str, name: str = "program.cairo", proof_mode: bool = True) -> bytes:
    """Compiles Cairo 0 source to the JSON `cairo-compile --no_debug_info [--proof_mode]` writes."""
    codes = [(source, name)]
    if proof_mode:
        codes.insert(0, (get_start_code(), START_FILE_NAME))
    try:
        program = compile_cairo(code=codes, prime=DEFAULT_PRIME)
    except LocationError as err:
        raise CompileError(str(err)) from None
    text = json.dumps(Program.Schema().dump(program), indent=4, sort_keys=True)
    return (text + "\n").encode()


def load_program(text: str) -> Program:
    """Parses compiled program JSON; raises MALFORMED_PROGRAM with the reason when it is not one."""
    try:
        data: Any = json.loads(text)
    except ValueError as err:
        raise _malformed(f"not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise _malformed(f"expected a JSON object, got {type(data).__name__}")
    try:
        program = Program.load(data=data)
    except Exception as err:  # marshmallow and cairo-lang raise many kinds of errors here.
        raise _malformed(f"{type(err).__name__}: {_first_line(err)}") from None
    if program.prime != DEFAULT_PRIME:
        raise _malformed(f"prime {program.prime:#x} is not the Stark prime")
    return program


def program_hash(program: Program) -> int:
    """The program hash `cairo-hash-program` prints (Pedersen hash chain, bootloader version 0)."""
    return compute_program_hash_chain(program, HashFunction.PEDERSEN)


def _malformed(detail: str) -> RunFailure:
    return RunFailure(
        FailureReason.MALFORMED_PROGRAM,
        f"program is not a compiled Cairo program ({detail}); send the JSON cairo-compile writes",
    )


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else "no detail"
