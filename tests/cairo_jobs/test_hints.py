"""The hint allow-list: vetted hints run, anything else is refused before any step runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cairo_jobs.examples import EXAMPLES, compiled, example_hints
from cairo_jobs.hints import hint_codes
from cairo_jobs.program import load_program
from cairo_jobs.runner import FailureReason, RunFailure, RunnerPool, RunRequest
from cairo_jobs.vm import execute

from .conftest import HINT_MEMORY_BOMB, compile_snippet


def test_the_committed_allow_list_is_exactly_the_examples_hints():
    used = frozenset().union(
        *(hint_codes(load_program(compiled(name).decode())) for name in EXAMPLES)
    )
    assert example_hints() == used


def test_examples_run_under_their_own_allow_list():
    allowed = example_hints()
    for name, example in EXAMPLES.items():
        result = execute(
            RunRequest(
                program=compiled(name),
                program_input=example.sample_input,
                layout=example.layout,
                allowed_hints=allowed,
            )
        )
        assert result.output, name


def test_an_unvetted_hint_is_refused_with_its_location(tmp_path: Path):
    bomb = compile_snippet(tmp_path, HINT_MEMORY_BOMB)
    with pytest.raises(RunFailure) as caught:
        execute(RunRequest(program=bomb, allowed_hints=example_hints()))
    assert caught.value.reason is FailureReason.FORBIDDEN_HINT
    assert "bytearray" in caught.value.message and "pc=" in caught.value.message


def test_an_edited_copy_of_a_vetted_hint_is_refused():
    program = json.loads(compiled("fibonacci"))
    for hints in program["hints"].values():
        for hint in hints:
            hint["code"] = hint["code"].replace("2**32", "2**64")
    with pytest.raises(RunFailure) as caught:
        execute(RunRequest(program=program, program_input={"n": 3}, allowed_hints=example_hints()))
    assert caught.value.reason is FailureReason.FORBIDDEN_HINT


async def test_allow_list_travels_to_the_workers(tmp_path: Path):
    bomb = compile_snippet(tmp_path, HINT_MEMORY_BOMB)
    async with RunnerPool(workers=1) as pool:
        with pytest.raises(RunFailure) as caught:
            await pool.run(RunRequest(program=bomb, allowed_hints=frozenset()))
        assert caught.value.reason is FailureReason.FORBIDDEN_HINT
        result = await pool.run(
            RunRequest(
                program=compiled("fibonacci"), program_input={"n": 4}, allowed_hints=example_hints()
            )
        )
        assert result.output == [4, 3]
