"""The Cairo CPU AIR on a real proof-mode run of the fibonacci example."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest
from starkware.cairo.lang.compiler.encode import decode_instruction, encode_instruction

from cairo_jobs.examples import compiled
from cairo_jobs.model import ProofArtifacts
from cairo_jobs.native import cairo_trace, prover, verifier
from cairo_jobs.native.cairo_air import INDEX, CairoCpuAir
from cairo_jobs.native.cairo_trace import ArtifactError
from cairo_jobs.native.field import P
from cairo_jobs.native.parameters import Parameters
from cairo_jobs.runner import RunRequest
from cairo_jobs.vm import execute

SMALL = Parameters(log_blowup=2, n_queries=6, pow_bits=4, log_last_layer_degree=1)
Run = tuple[ProofArtifacts, list[list[int]], CairoCpuAir]


@pytest.fixture(scope="module")
def fibonacci_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    request = RunRequest(
        program=compiled("fibonacci"),
        program_input={"n": 10},
        layout="small",
        proof_mode=True,
        work_dir=tmp_path_factory.mktemp("fibonacci"),
    )
    artifacts = execute(request).artifacts
    assert artifacts is not None
    columns, registers = cairo_trace.trace_columns(artifacts)
    log_n = len(columns[0]).bit_length() - 1
    return artifacts, columns, CairoCpuAir(log_n, registers)


def rows(columns: list[list[int]]) -> list[list[int]]:
    return [list(row) for row in zip(*columns, strict=True)]


def test_decoding_matches_cairo_lang(fibonacci_run: Run) -> None:
    _, columns, _ = fibonacci_run
    for row in rows(columns):
        inst = row[INDEX["inst"]]
        imm = None if not row[INDEX["op1_imm"]] else row[INDEX["op1"]]
        assert encode_instruction(decode_instruction(inst, imm), prime=P)[0] == inst
        offsets, flags = cairo_trace.decode(inst)
        expected = decode_instruction(inst, imm)
        assert [o - cairo_trace.OFFSET_BIAS for o in offsets] == [
            expected.off0,
            expected.off1,
            expected.off2,
        ]
        assert flags[cairo_trace.FLAGS.index("call")] == (expected.opcode.name == "CALL")


def test_every_step_satisfies_the_cpu_constraints(fibonacci_run: Run) -> None:
    _, columns, air = fibonacci_run
    table = rows(columns)
    assert len(table) == 1 << air.log_trace_length
    for current, following in itertools.pairwise(table):
        assert all(v % P == 0 for v in air.transitions(current, following, []))
    for boundary in air.boundaries():
        assert columns[boundary.column][boundary.row] == boundary.value


def test_cpu_trace_proves_and_verifies(fibonacci_run: Run) -> None:
    _, columns, air = fibonacci_run
    assert verifier.verify(air, prover.prove(air, columns, SMALL)) == SMALL.security_bits(
        air.log_trace_length + SMALL.log_blowup
    )


@pytest.mark.parametrize("name", ["pc", "ap", "fp", "inst", "op1_imm", "dst", "op0", "res", "t1"])
def test_a_changed_cell_breaks_the_constraints(fibonacci_run: Run, name: str) -> None:
    _, columns, air = fibonacci_run
    changed = [list(column) for column in columns]
    changed[INDEX[name]][5] = (changed[INDEX[name]][5] + 1) % P
    with pytest.raises(prover.UnsatisfiedTrace):
        prover.prove(air, changed, SMALL)


def test_other_registers_are_refused(fibonacci_run: Run) -> None:
    _, columns, air = fibonacci_run
    data = prover.prove(air, columns, SMALL)
    other = dataclasses.replace(
        air, registers=dataclasses.replace(air.registers, final_ap=air.registers.final_ap + 1)
    )
    with pytest.raises(verifier.VerificationError):
        verifier.verify(other, data)


def test_malformed_artifacts_are_refused(fibonacci_run: Run, tmp_path: Path) -> None:
    artifacts, _, _ = fibonacci_run
    trace, memory = tmp_path / "trace.bin", tmp_path / "memory.bin"
    trace.write_bytes(artifacts.trace.read_bytes()[:-1])
    with pytest.raises(ArtifactError, match="24-byte"):
        cairo_trace.read_trace(trace)
    memory.write_bytes(artifacts.memory.read_bytes()[:-3])
    with pytest.raises(ArtifactError, match="40-byte"):
        cairo_trace.read_memory(memory)
    memory.write_bytes((7).to_bytes(8, "little") + P.to_bytes(32, "little"))
    with pytest.raises(ArtifactError, match="Stark prime"):
        cairo_trace.read_memory(memory)
    with pytest.raises(ArtifactError, match="absent"):
        cairo_trace.step_row(1, 100, 100, {})
    with pytest.raises(ArtifactError, match="not an instruction"):
        cairo_trace.decode(2**63)
