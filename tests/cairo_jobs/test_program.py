"""Compiling and hashing programs: the same bytes and hashes as cairo-lang's command-line tools."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairo_jobs.examples import EXAMPLES, compiled
from cairo_jobs.program import CompileError, compile_source, load_program, program_hash

from .conftest import cli


@pytest.mark.parametrize("proof_mode", [True, False])
def test_compile_source_writes_what_cairo_compile_writes(tmp_path: Path, proof_mode: bool):
    source = EXAMPLES["pedersen_range"].path
    out = tmp_path / "out.json"
    flags = ["--proof_mode"] if proof_mode else []
    cli("cairo-compile", *flags, "--no_debug_info", source, "--output", out)
    assert compile_source(source.read_text(), proof_mode=proof_mode) == out.read_bytes()


def test_program_hash_is_what_cairo_hash_program_prints(tmp_path: Path):
    path = tmp_path / "fib.json"
    path.write_bytes(compiled("fibonacci"))
    expected = cli("cairo-hash-program", "--program", path).strip()
    assert hex(program_hash(load_program(path.read_text()))) == expected


def test_source_that_does_not_compile_names_the_place():
    with pytest.raises(CompileError, match=r"bad\.cairo:1:15"):
        compile_source("func main() { ret; }", name="bad.cairo")
