"""Re-execution verifier, the AIR public-input binding, and the Stone backend's set-up."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from cairo_jobs import air
from cairo_jobs.backends import make_prover, make_verifier
from cairo_jobs.examples import EXAMPLES, compiled
from cairo_jobs.program import compile_source, load_program
from cairo_jobs.proving import Claim, Proof, VerificationMode
from cairo_jobs.reexecution import ReexecutionVerifier
from cairo_jobs.runner import RunFailure, RunnerPool, RunRequest
from cairo_jobs.stone import (
    StoneConfig,
    StoneNotInstalled,
    StoneProver,
    StoneTimeout,
    StoneVerifier,
    fri_parameters,
)
from cairo_jobs.vm import execute

from .conftest import INFINITE_LOOP, compile_snippet

FIB = compiled("fibonacci")


async def test_reexecution_accepts_the_true_output_and_refuses_others():
    request = RunRequest(program=FIB, program_input={"n": 10})
    truth = execute(request)
    async with RunnerPool(workers=1) as pool:
        verifier = ReexecutionVerifier(pool)
        good = await verifier.verify(Claim(request, truth.program_hash, [10, 55]))
        wrong_output = await verifier.verify(Claim(request, truth.program_hash, [10, 56]))
        wrong_program = await verifier.verify(Claim(request, truth.program_hash + 1, [10, 55]))
        failing_job = await verifier.verify(
            Claim(RunRequest(program=FIB, program_input={"m": 1}), truth.program_hash, [1])
        )
    assert good.valid and good.mode is VerificationMode.REEXECUTION
    assert good.security_bits == 0, "re-execution is reported as 0 proof bits"
    assert not wrong_output.valid and "output" in wrong_output.reason
    assert not wrong_program.valid and "program hash" in wrong_program.reason
    assert not failing_job.valid and "hint_error" in failing_job.reason


async def test_reexecution_cannot_decide_when_it_runs_out_of_time(tmp_path: Path):
    loop = RunRequest(program=compile_snippet(tmp_path, INFINITE_LOOP), max_steps=10**9, timeout=1)
    async with RunnerPool(workers=1) as pool:
        with pytest.raises(RunFailure, match="timeout"):
            await ReexecutionVerifier(pool).verify(Claim(loop, 0, []))


@pytest.mark.parametrize("name", ["merkle_root", "stream_digest"])  # __start__ at 0, at 1
def test_public_input_commits_to_the_program_and_output(name: str, tmp_path: Path):
    example = EXAMPLES[name]
    result = execute(
        RunRequest(
            program=compiled(name),
            program_input=example.sample_input,
            proof_mode=True,
            work_dir=tmp_path,
        )
    )
    assert result.artifacts is not None
    public_input = json.loads(result.artifacts.public_input.read_text())
    program = load_program(compiled(name).decode())
    other = dataclasses.replace(program, data=[*program.data[:-1], 0])
    assert air.committed_output(public_input) == result.output
    assert air.mismatch(public_input, program, result.output) is None
    assert "different output" in air.mismatch(public_input, program, [8, 1])
    assert "different program" in air.mismatch(public_input, other, result.output)
    assert "malformed" in air.mismatch({"public_memory": "x"}, program, result.output)
    assert "malformed" in air.mismatch(None, program, result.output)
    no_start = load_program(compile_source(example.path.read_text(), proof_mode=False).decode())
    assert "--proof_mode" in air.mismatch(public_input, no_start, result.output)


@pytest.mark.parametrize("log_steps", range(4, 26))
def test_fri_parameters_satisfy_stone_degree_equation(log_steps):
    fri = fri_parameters(2**log_steps)
    assert (fri.last_layer_degree_bound.bit_length() - 1) + sum(fri.fri_step_list) == (
        log_steps + 4
    )
    assert fri.fri_step_list[0] == 0 and all(0 < s <= 4 for s in fri.fri_step_list[1:])
    assert fri.security_bits >= 80


@pytest.mark.parametrize("bits", [50, 80, 96, 128])
def test_fri_parameters_reach_the_requested_security(bits):
    fri = fri_parameters(2**14, StoneConfig(security_bits=bits))
    assert bits <= fri.security_bits < bits + fri.log_n_cosets
    assert fri.parameter_file()["stark"]["fri"]["n_queries"] == fri.n_queries


@pytest.mark.parametrize("steps", [0, 3, 1000])
def test_fri_parameters_need_a_power_of_two_trace(steps):
    with pytest.raises(ValueError, match="power of two"):
        fri_parameters(steps)


def test_missing_stone_binaries_name_how_to_install(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    for make in (StoneProver, StoneVerifier):
        with pytest.raises(StoneNotInstalled, match="scripts/install-stone"):
            make()
    with pytest.raises(StoneNotInstalled, match=str(tmp_path / "nope")):
        StoneProver(StoneConfig(prover=tmp_path / "nope"))


async def test_stone_verifier_checks_the_claim_before_calling_the_binary(tmp_path: Path):
    # /bin/false stands in for a verifier binary that rejects every proof.
    verifier = StoneVerifier(StoneConfig(verifier=Path(shutil.which("false"))))
    request = RunRequest(program=FIB, program_input={"n": 3}, proof_mode=True, work_dir=tmp_path)
    result = execute(request)
    assert result.artifacts is not None

    async def verdict_for(output: list[int], document: object | str | None, bits: int = 80):
        proof = None
        if document is not None:
            path = tmp_path / "proof.json"
            path.write_text(document if isinstance(document, str) else json.dumps(document))
            proof = Proof(VerificationMode.STONE, path, bits)
        return await verifier.verify(Claim(request, result.program_hash, output, proof))

    public_input = json.loads(result.artifacts.public_input.read_text())
    parameters = {"stark": {"fri": {"n_queries": 14, "proof_of_work_bits": 24}, "log_n_cosets": 4}}
    document = {"public_input": public_input, "proof_parameters": parameters}
    weak = {
        "public_input": public_input,
        "proof_parameters": {
            **parameters,
            "stark": {"fri": {"n_queries": 2, "proof_of_work_bits": 0}, "log_n_cosets": 4},
        },
    }
    cases = [
        ([3, 2], None, "no Stone proof"),
        ([3, 2], "{not json", "cannot be read"),
        ([3, 5], document, "different output"),
        ([3, 2], {"proof_parameters": parameters}, "malformed"),
        ([3, 2], weak, "less than the 80"),
        ([3, 2], {**document, "public_input": {**public_input, "layout": "dex"}}, "'dex'"),
        ([3, 2], document, "cpu_air_verifier failed"),
    ]
    for output, proof_document, reason in cases:
        verdict = await verdict_for(output, proof_document)
        assert not verdict.valid and reason in verdict.reason, (reason, verdict)
    assert (await verdict_for([3, 2], document)).security_bits == 80


async def test_without_a_proof_backend_validators_reexecute_with_zero_bits(tmp_path: Path):
    assert make_prover(None) is None
    async with RunnerPool(workers=1) as pool:
        verifier = make_verifier(pool, None)
        request = RunRequest(program=FIB, program_input={"n": 6})
        verdict = await verifier.verify(Claim(request, execute(request).program_hash, [6, 8]))
    assert verdict.valid and verdict.mode is VerificationMode.REEXECUTION
    assert verdict.security_bits == 0
    with pytest.raises(StoneNotInstalled):
        make_verifier(pool, StoneConfig(verifier=tmp_path / "missing"))
    with pytest.raises(StoneNotInstalled):
        make_prover(StoneConfig(prover=tmp_path / "missing"))


async def test_a_stone_binary_past_its_timeout_is_stopped_and_undecided(tmp_path: Path):
    # A hung verifier is a fault real Stone cannot be made to show on demand: a script stands in.
    hung = tmp_path / "hung_verifier"
    hung.write_text("#!/bin/sh\nexec sleep 60\n")
    hung.chmod(0o755)
    config = StoneConfig(verifier=hung, timeout=0.5)
    request = RunRequest(program=FIB, program_input={"n": 3}, proof_mode=True, work_dir=tmp_path)
    result = execute(request)
    assert result.artifacts is not None
    document = {
        "public_input": json.loads(result.artifacts.public_input.read_text()),
        "proof_parameters": {
            "stark": {"fri": {"n_queries": 14, "proof_of_work_bits": 24}, "log_n_cosets": 4}
        },
    }
    proof_path = tmp_path / "proof.json"
    proof_path.write_text(json.dumps(document))
    claim = Claim(
        request, result.program_hash, result.output, Proof(VerificationMode.STONE, proof_path, 80)
    )
    with pytest.raises(StoneTimeout, match=r"0\.5 s"):
        await StoneVerifier(config).verify(claim)
