"""In-process runs: each kind of bad request fails with its own reason and a useful message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cairo_jobs.examples import EXAMPLES, compiled
from cairo_jobs.runner import FailureReason, RunFailure, RunRequest
from cairo_jobs.vm import execute

from .conftest import INFINITE_LOOP, compile_snippet

FIB = compiled("fibonacci")


def fails_with(reason: FailureReason, **fields) -> RunFailure:
    with pytest.raises(RunFailure) as caught:
        execute(RunRequest(**{"program": FIB, "program_input": {"n": 5}, **fields}))
    assert caught.value.reason is reason
    assert caught.value.message
    return caught.value


def test_runs_each_example_with_its_sample_input():
    for name, example in EXAMPLES.items():
        result = execute(
            RunRequest(
                program=compiled(name), program_input=example.sample_input, layout=example.layout
            )
        )
        assert result.steps > 0 and len(result.output) >= 2, name
    assert execute(RunRequest(program=FIB, program_input={"n": 10})).output == [10, 55]


def test_program_given_as_dict_or_text_gives_the_same_result():
    as_bytes = execute(RunRequest(program=FIB, program_input={"n": 7}))
    as_dict = execute(RunRequest(program=json.loads(FIB), program_input={"n": 7}))
    as_text = execute(RunRequest(program=FIB.decode(), program_input={"n": 7}))
    assert as_bytes.output == as_dict.output == as_text.output == [7, 13]
    assert as_bytes.program_hash == as_dict.program_hash == as_text.program_hash


@pytest.mark.parametrize(
    "program",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"[1, 2, 3]",
        b"{}",
        json.dumps({**json.loads(FIB), "data": ["zz"]}).encode(),
        json.dumps({**json.loads(FIB), "prime": "0x7"}).encode(),
        FIB[: len(FIB) // 2],
    ],
    ids=[
        "empty",
        "text",
        "not-utf8",
        "array",
        "empty-object",
        "bad-data",
        "wrong-prime",
        "truncated",
    ],
)
def test_malformed_program_is_reported_as_such(program):
    failure = fails_with(FailureReason.MALFORMED_PROGRAM, program=program)
    assert "cairo-compile" in failure.message


@pytest.mark.parametrize(
    "program_input",
    [{}, {"m": 3}, {"n": "ten"}, {"n": -1}, {"n": 2**40}, {"n": [1]}],
    ids=["empty", "wrong-key", "string", "negative", "too-large", "list"],
)
def test_wrong_input_shape_is_a_hint_error_naming_the_problem(program_input):
    failure = fails_with(FailureReason.HINT_ERROR, program_input=program_input)
    assert "program input" in failure.message


def test_input_that_is_not_a_json_object_is_bad_input():
    fails_with(FailureReason.BAD_INPUT, program_input=[1, 2])
    with pytest.raises(RunFailure) as caught:
        RunRequest.from_body(FIB, b"{not json", "small")
    assert caught.value.reason is FailureReason.BAD_INPUT


def test_from_body_parses_the_input_bytes():
    request = RunRequest.from_body(FIB, b'{"n": 12}', "small", max_steps=10_000)
    assert execute(request).output == [12, 144]


@pytest.mark.parametrize(
    "fields",
    [
        {"max_steps": 0},
        {"max_steps": -5},
        {"max_steps": 1.5},
        {"timeout": 0},
        {"memory_cap": 0},
        {"layout": 3},
    ],
)
def test_invalid_limits_are_rejected_before_running(fields):
    fails_with(FailureReason.BAD_REQUEST, **fields)


def test_step_limit_stops_a_long_run():
    failure = fails_with(FailureReason.STEP_LIMIT, program_input={"n": 100_000}, max_steps=5_000)
    assert "5000 steps" in failure.message


def test_step_limit_stops_an_infinite_loop(tmp_path: Path):
    loop = compile_snippet(tmp_path, INFINITE_LOOP)
    fails_with(FailureReason.STEP_LIMIT, program=loop, program_input={}, max_steps=20_000)


def test_steps_exactly_at_the_limit_are_allowed():
    steps = execute(RunRequest(program=FIB, program_input={"n": 20})).steps
    assert execute(RunRequest(program=FIB, program_input={"n": 20}, max_steps=steps)).steps == steps
    fails_with(FailureReason.STEP_LIMIT, program_input={"n": 20}, max_steps=steps - 1)


def test_unknown_and_mismatched_layouts_are_named():
    failure = fails_with(FailureReason.UNKNOWN_LAYOUT, layout="huge")
    assert "small" in failure.message
    failure = fails_with(
        FailureReason.LAYOUT_MISMATCH,
        program=compiled("poseidon_chain"),
        program_input={"seed": 1, "n": 1},
        layout="small",
    )
    assert "poseidon" in failure.message


def test_proof_mode_needs_a_proof_mode_program(tmp_path: Path):
    plain = compile_snippet(
        tmp_path,
        "%builtins output\nfunc main{output_ptr: felt*}() {\n    return ();\n}\n",
        proof_mode=False,
    )
    failure = fails_with(FailureReason.NOT_PROVABLE, program=plain, proof_mode=True)
    assert "--proof_mode" in failure.message


def test_an_out_of_range_value_fails_in_the_library_hint():
    failure = fails_with(
        FailureReason.HINT_ERROR,
        program=compiled("pedersen_range"),
        program_input={"values": [5, 2000], "bound": 1000},
    )
    assert "out of range" in failure.message


def test_a_failing_assertion_is_an_execution_error(tmp_path: Path):
    source = "func main() {\n    tempvar x = 1;\n    assert x = 2;\n    return ();\n}\n"
    failure = fails_with(
        FailureReason.EXECUTION_ERROR, program=compile_snippet(tmp_path, source), program_input={}
    )
    assert "pc=" in failure.message
