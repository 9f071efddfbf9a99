"""Our runner against cairo-lang's own tools: same outputs, program hashes and proof-mode files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio

from cairo_jobs.examples import EXAMPLES
from cairo_jobs.runner import RunnerPool, RunRequest

from .conftest import STARK_PRIME, cli


@pytest.fixture(scope="module")
def cairo_lang_answers(cli_compiled) -> dict[str, tuple[list[int], str]]:
    """Per example: `cairo-run --print_output` output (as felts) and `cairo-hash-program` hash."""
    answers = {}
    for name, program in cli_compiled.items():
        printed = cli(
            "cairo-run",
            "--program",
            program,
            "--program_input",
            program.with_name(f"{name}_input.json"),
            "--layout",
            EXAMPLES[name].layout,
            "--print_output",
        )
        program_hash = cli("cairo-hash-program", "--program", program).strip()
        answers[name] = (parse_output(printed), program_hash)
    return answers


def parse_output(text: str) -> list[int]:
    lines = text.split("Program output:\n", 1)[1].splitlines()
    return [int(line) % STARK_PRIME for line in lines if line.startswith("  ")]


async def test_outputs_and_program_hashes_equal_cairo_lang(cli_compiled, cairo_lang_answers):
    results = {}

    async def run_one(pool: RunnerPool, name: str) -> None:
        example = EXAMPLES[name]
        results[name] = await pool.run(
            RunRequest(
                program=cli_compiled[name].read_bytes(),
                program_input=example.sample_input,
                layout=example.layout,
            )
        )

    async with RunnerPool(workers=2) as pool, trio.open_nursery() as nursery:
        for name in EXAMPLES:
            nursery.start_soon(run_one, pool, name)
    for name, (output, program_hash) in cairo_lang_answers.items():
        assert results[name].output == output, name
        assert hex(results[name].program_hash) == program_hash, name


async def test_proof_mode_files_equal_cairo_run(cli_compiled, tmp_path: Path):
    program = cli_compiled["merkle_root"]
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    cli(
        "cairo-run",
        "--program",
        program,
        "--program_input",
        program.with_name("merkle_root_input.json"),
        "--layout",
        "small",
        "--proof_mode",
        "--trace_file",
        theirs / "trace.bin",
        "--memory_file",
        theirs / "memory.bin",
        "--air_public_input",
        theirs / "public.json",
        "--air_private_input",
        theirs / "private.json",
    )
    async with RunnerPool(workers=1) as pool:
        result = await pool.run(
            RunRequest(
                program=program.read_bytes(),
                program_input=EXAMPLES["merkle_root"].sample_input,
                layout="small",
                proof_mode=True,
                work_dir=tmp_path / "ours",
            )
        )
    files = result.artifacts
    assert files is not None
    assert files.trace.read_bytes() == (theirs / "trace.bin").read_bytes()
    assert files.memory.read_bytes() == (theirs / "memory.bin").read_bytes()
    assert json.loads(files.public_input.read_text()) == json.loads(
        (theirs / "public.json").read_text()
    )
    ours_private = json.loads(files.private_input.read_text())
    theirs_private = json.loads((theirs / "private.json").read_text())
    assert Path(ours_private.pop("trace_path")) == files.trace.resolve()
    assert Path(ours_private.pop("memory_path")) == files.memory.resolve()
    del theirs_private["trace_path"], theirs_private["memory_path"]
    assert ours_private == theirs_private
