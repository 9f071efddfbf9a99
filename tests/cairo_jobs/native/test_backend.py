"""The `native` backend: a child process proves a proof-mode run, the verifier ties it to claims."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import trio

from cairo_jobs.backends import make_prover, make_verifier
from cairo_jobs.examples import EXAMPLES, compiled
from cairo_jobs.model import RunResult
from cairo_jobs.native import __main__ as cli
from cairo_jobs.native import proof_file
from cairo_jobs.native.backend import (
    NativeConfig,
    NativeProver,
    NativeProverTimeout,
    NativeVerifier,
    builtin_pointers_mismatch,
)
from cairo_jobs.native.cairo_trace import UnsupportedBuiltin
from cairo_jobs.native.parameters import Parameters
from cairo_jobs.pool import RunnerPool
from cairo_jobs.program import load_program, program_hash
from cairo_jobs.proving import Claim, Proof, VerificationMode
from cairo_jobs.runner import RunRequest
from cairo_jobs.vm import execute

pytestmark = pytest.mark.slow

SMALL = Parameters(log_blowup=2, n_queries=6, pow_bits=4, log_last_layer_degree=1)
CONFIG = NativeConfig(parameters=SMALL, security_bits=16, timeout=300)
Proved = tuple[RunRequest, RunResult, Proof]


def proof_mode(name: str, program_input: dict, work_dir: Path) -> tuple[RunRequest, RunResult]:
    request = RunRequest(
        compiled(name), program_input, EXAMPLES[name].layout, proof_mode=True, work_dir=work_dir
    )
    return request, execute(request)


@pytest.fixture(
    scope="module",
    params=[
        ("fibonacci", {"n": 10}),
        ("long_loop", {"n": 40, "x": 3}),
        ("bounded_sum", EXAMPLES["bounded_sum"].sample_input),
        ("poseidon_chain", {"seed": 7, "n": 3}),
        ("merkle_root", {"leaves": [1, 2, 3, 4]}),
        ("stream_digest", EXAMPLES["stream_digest"].sample_input),
        ("pedersen_range", EXAMPLES["pedersen_range"].sample_input),
        ("bitwise_mix", {"values": [3, 2**250 + 7, 0xF0F0]}),
    ],
)
def proved(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Proved:
    """The examples with output, range_check, poseidon and bitwise only, proved once per module
    (outside the tests' trio runs)."""
    name, program_input = request.param
    job, result = proof_mode(name, program_input, tmp_path_factory.mktemp(name))
    return job, result, trio.run(NativeProver(CONFIG).prove, result)


def claim(proved: Proved, **change) -> Claim:
    job, result, proof = proved
    fields = {"request": job, "program_hash": result.program_hash, "output": result.output}
    return Claim(**(fields | {"proof": proof} | change))


async def test_a_proof_of_a_supported_program_verifies(proved: Proved) -> None:
    _, result, proof = proved
    assert proof.backend is VerificationMode.NATIVE
    assert proof.security_bits == SMALL.security_bits(result.trace_steps.bit_length() + 1)
    verdict = await NativeVerifier(CONFIG).verify(claim(proved))
    assert verdict.valid, verdict.reason
    assert verdict.mode is VerificationMode.NATIVE and verdict.security_bits == proof.security_bits


async def test_claims_the_proof_does_not_prove_are_refused(proved: Proved) -> None:
    job, result, proof = proved
    other_program = dataclasses.replace(job, program=compiled("squares"))
    cases = {
        "different output": claim(proved, output=[*result.output[:-1], result.output[-1] + 1]),
        "program hash": claim(proved, program_hash=result.program_hash + 1),
        "different program": claim(
            proved,
            request=other_program,
            program_hash=program_hash(load_program(other_program.program_text())),
        ),
        "layout": claim(proved, request=dataclasses.replace(job, layout="all_cairo")),
        "no native proof": claim(
            proved, proof=dataclasses.replace(proof, backend=VerificationMode.STONE)
        ),
    }
    verifier = NativeVerifier(CONFIG)
    for reason, wrong in cases.items():
        verdict = await verifier.verify(wrong)
        assert not verdict.valid and reason in verdict.reason, (reason, verdict.reason)


async def test_too_few_security_bits_are_refused(proved: Proved) -> None:
    verdict = await NativeVerifier(NativeConfig(security_bits=80)).verify(claim(proved))
    assert not verdict.valid and "less than the 80" in verdict.reason


async def test_a_damaged_proof_file_is_refused(proved: Proved, tmp_path: Path) -> None:
    _, _, proof = proved
    document = json.loads(proof.path.read_text())
    damaged = tmp_path / "damaged.json"
    verifier = NativeVerifier(CONFIG)
    middle = len(document["proof"]) // 2
    flipped = "1" if document["proof"][middle] != "1" else "2"
    cases = {
        "native proof is wrong": {
            **document,
            "proof": document["proof"][:middle] + flipped + document["proof"][middle + 1 :],
        },
        "not a native-stark/1": {**document, "format": "stone"},
        "no hex proof": {**document, "proof": 7},
        "non-hexadecimal": {**document, "proof": "zz"},
        "public input is malformed": {**document, "public_input": {"n_steps": 512}},
    }
    for reason, content in cases.items():
        damaged.write_text(json.dumps(content))
        verdict = await verifier.verify(
            claim(proved, proof=dataclasses.replace(proof, path=damaged))
        )
        assert not verdict.valid and reason in verdict.reason, (reason, verdict.reason)
    with damaged.open("wb") as sparse:
        sparse.truncate(proof_file.MAX_FILE_BYTES + 1)
    verdict = await verifier.verify(claim(proved, proof=dataclasses.replace(proof, path=damaged)))
    assert not verdict.valid and "more than the" in verdict.reason
    damaged.write_bytes(b"\xff not json")
    verdict = await verifier.verify(claim(proved, proof=dataclasses.replace(proof, path=damaged)))
    assert not verdict.valid and "cannot be used" in verdict.reason


async def test_moved_builtin_segment_ends_are_refused(proved: Proved, tmp_path: Path) -> None:
    """The last builtin's segment ends one cell later in the public input (and main returns
    that end): the claim's output or the STARK proof no longer holds."""
    job, _, proof = proved
    document = json.loads(proof.path.read_text())
    builtin = load_program(job.program_text()).builtins[-1]
    segment = document["public_input"]["memory_segments"][builtin]
    returned_at = document["public_input"]["memory_segments"]["execution"]["stop_ptr"] - 1
    for cell in document["public_input"]["public_memory"]:
        if cell["address"] == returned_at:
            cell["value"] = hex(segment["stop_ptr"] + 1)
    segment["stop_ptr"] += 1
    moved = tmp_path / "moved.json"
    moved.write_text(json.dumps(document))
    verdict = await NativeVerifier(CONFIG).verify(
        claim(proved, proof=dataclasses.replace(proof, path=moved))
    )
    expected = {
        "output": "malformed",
        "range_check": "native proof is wrong",
        "poseidon": "instances of 6 cells",
        "pedersen": "instances of 3 cells",
        "bitwise": "instances of 5 cells",
    }[builtin]
    assert not verdict.valid and expected in verdict.reason, verdict.reason


def test_builtin_pointers_must_match_the_segments(proved: Proved) -> None:
    job, _, proof = proved
    public_input = json.loads(proof.path.read_text())["public_input"]
    builtins = load_program(job.program_text()).builtins
    assert builtin_pointers_mismatch(public_input, builtins) is None
    public_input["memory_segments"]["output"]["begin_addr"] += 1
    assert "receive the output" in builtin_pointers_mismatch(public_input, builtins)
    assert "malformed" in builtin_pointers_mismatch(public_input, ["keccak"])
    public_input["memory_segments"]["output"]["begin_addr"] -= 1
    assert "return the output" in builtin_pointers_mismatch(public_input, [*builtins, "ecdsa"])


async def test_a_program_with_an_unsupported_builtin_is_refused(tmp_path: Path) -> None:
    """A run whose ecdsa segment is not empty (its public input says so)."""
    _, result = proof_mode("fibonacci", {"n": 3}, tmp_path)
    document = json.loads(result.artifacts.public_input.read_text())
    document["memory_segments"]["ecdsa"]["stop_ptr"] += 2
    result.artifacts.public_input.write_text(json.dumps(document))
    with pytest.raises(UnsupportedBuiltin, match="ecdsa builtin"):
        await NativeProver(CONFIG).prove(result)
    assert not (tmp_path / "proof.native.json").exists()


async def test_a_prover_past_its_timeout_is_stopped(tmp_path: Path) -> None:
    _, result = proof_mode("fibonacci", {"n": 3}, tmp_path)
    with pytest.raises(NativeProverTimeout, match="raise the native timeout"):
        await NativeProver(dataclasses.replace(CONFIG, timeout=0.2)).prove(result)


def test_the_command_line_refuses_bad_parameters_and_files(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    missing = [str(tmp_path / name) for name in ("public_input", "trace", "memory", "out")]
    with pytest.raises(SystemExit) as exit_:
        cli.main(["prove", *missing, "--n-queries=0"])
    assert exit_.value.code == 2 and "n_queries must be" in capsys.readouterr().err
    assert cli.main(["prove", *missing]) == 3
    assert "cannot prove" in capsys.readouterr().err


async def test_the_configured_backend_is_picked() -> None:
    assert isinstance(make_prover(None, CONFIG), NativeProver)
    assert make_prover(None) is None
    async with RunnerPool(workers=1) as pool:
        assert isinstance(make_verifier(pool, None, CONFIG), NativeVerifier)
