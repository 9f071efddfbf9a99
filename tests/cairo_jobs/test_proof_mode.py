"""Proof-mode runs write well-formed prover inputs that agree with the run's result."""

from __future__ import annotations

import json
from pathlib import Path

from cairo_jobs.examples import EXAMPLES, compiled
from cairo_jobs.runner import RunRequest
from cairo_jobs.vm import execute

STARK_PRIME = 2**251 + 17 * 2**192 + 1
TRACE_ENTRY_BYTES = 24  # ap, fp, pc as little-endian u64.
MEMORY_ENTRY_BYTES = 40  # address u64 + 32-byte felt.


def test_proof_mode_artifacts_are_well_formed(tmp_path: Path):
    example = EXAMPLES["pedersen_range"]
    result = execute(
        RunRequest(
            program=compiled("pedersen_range"),
            program_input=example.sample_input,
            layout="small",
            proof_mode=True,
            work_dir=tmp_path,
        )
    )
    files = result.artifacts
    assert files is not None and files.trace.parent == tmp_path
    assert result.trace_steps >= result.steps
    assert result.trace_steps & (result.trace_steps - 1) == 0, "trace length is a power of two"
    public = json.loads(files.public_input.read_text())
    assert public["layout"] == "small" and public["n_steps"] == result.trace_steps
    assert {"program", "execution", "output", "pedersen", "range_check"} <= set(
        public["memory_segments"]
    )
    assert files.trace.stat().st_size == result.trace_steps * TRACE_ENTRY_BYTES
    assert files.memory.stat().st_size % MEMORY_ENTRY_BYTES == 0
    output = public["memory_segments"]["output"]
    public_values = {int(e["address"]): int(e["value"], 16) for e in public["public_memory"]}
    assert [public_values[a] for a in range(output["begin_addr"], output["stop_ptr"])] == (
        result.output
    )
    private = json.loads(files.private_input.read_text())
    assert Path(private["trace_path"]) == files.trace.resolve()
    assert len(private["pedersen"]) == len(example.sample_input["values"])


def test_proof_mode_without_work_dir_makes_a_fresh_directory():
    result = execute(
        RunRequest(program=compiled("fibonacci"), program_input={"n": 3}, proof_mode=True)
    )
    files = result.artifacts
    assert files is not None and files.trace.exists()
    assert files.trace.parent.name.startswith("cairo-run-")
    for path in (files.public_input, files.private_input, files.trace, files.memory):
        path.unlink()
    files.trace.parent.rmdir()


def test_plain_mode_writes_no_artifacts():
    result = execute(RunRequest(program=compiled("fibonacci"), program_input={"n": 3}))
    assert result.artifacts is None and result.trace_steps == result.steps
