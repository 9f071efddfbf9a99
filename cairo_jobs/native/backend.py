"""The `native` proof backend: the built-in STARK prover and verifier behind `Prover` / `Verifier`.

Proving runs in a child process (`python -m cairo_jobs.native prove`, killed at a timeout)
that writes a proof file (`proof_file`). Verifying ties the public input to the claim (program
bytecode, output, the builtin pointers main received and returned), then checks the STARK proof
against the Cairo AIR built from that public input.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from cairo_jobs import air
from cairo_jobs.child_process import run_bounded
from cairo_jobs.failures import RunFailure
from cairo_jobs.model import RunResult
from cairo_jobs.native import proof_file, verifier
from cairo_jobs.native.cairo_air import CairoAir
from cairo_jobs.native.cairo_trace import PublicInput
from cairo_jobs.native.parameters import Parameters
from cairo_jobs.native.proof_file import PARAMETER_NAMES
from cairo_jobs.program import load_program, program_hash
from cairo_jobs.proving import Claim, Proof, Verdict, VerificationMode

log = logging.getLogger("cairo_jobs.native.backend")

PROOF_FILE = "proof.native.json"


class NativeProverError(RuntimeError):
    """The native prover failed; the message says why."""


class NativeProverTimeout(NativeProverError):
    """The native prover ran past the configured timeout and was stopped."""


@dataclass(frozen=True)
class NativeConfig:
    """The proof parameters, the minimum security a verifier accepts, and the time limit."""

    parameters: Parameters = field(default_factory=Parameters)
    security_bits: int = 80
    timeout: float = 3600.0


class NativeProver:
    """Proves proof-mode runs with the native prover in a child process, then verifies."""

    def __init__(self, config: NativeConfig = NativeConfig()) -> None:
        self.config = config
        self.verifier = NativeVerifier(config)

    async def prove(self, result: RunResult) -> Proof:
        files = result.artifacts
        if files is None:
            raise ValueError("the run has no proof-mode artifacts; run it with proof_mode=True")
        PublicInput.from_json(json.loads(files.public_input.read_text()))  # refuse early
        out = files.public_input.parent / PROOF_FILE
        params = self.config.parameters
        args = [sys.executable, "-m", "cairo_jobs.native", "prove"]
        args += [str(files.public_input), str(files.trace), str(files.memory), str(out)]
        args += [
            f"--{name}={value}"
            for name, value in zip(PARAMETER_NAMES, params.as_list(), strict=True)
        ]
        timeout = self.config.timeout
        await run_bounded(
            args,
            timeout,
            on_timeout=lambda: NativeProverTimeout(
                f"the native prover ran longer than {timeout:g} s and was stopped; raise the "
                "native timeout or prove fewer steps"
            ),
            on_failure=lambda status, output: NativeProverError(
                f"the native prover failed (exit {status}): {output}"
            ),
        )
        bits = await self.verifier.check_file(out)
        log.info("native proof made", extra={"security_bits": bits, "steps": result.trace_steps})
        return Proof(VerificationMode.NATIVE, out, bits)


class NativeVerifier:
    """Verifies native proofs and ties them to the claim."""

    mode = VerificationMode.NATIVE

    def __init__(self, config: NativeConfig = NativeConfig()) -> None:
        self.config = config

    async def check_file(self, path: Path) -> int:
        """Verifies a proof file against its own public input; its security bits, else raises
        ValueError (VerificationError, ArtifactError) saying why."""
        return await _check(proof_file.read(path))

    async def verify(self, claim: Claim) -> Verdict:
        if claim.proof is None or claim.proof.backend is not VerificationMode.NATIVE:
            return self._verdict(False, 0, "the claim carries no native proof")
        try:
            program = load_program(claim.request.program_text())
            proven = proof_file.read(claim.proof.path)
        except RunFailure as failure:
            return self._verdict(False, 0, f"the job body is not runnable: {failure.message}")
        except (OSError, ValueError) as err:
            return self._verdict(False, 0, f"the proof file cannot be used: {err}")
        problem = _claim_mismatch(claim, program, proven.public_input)
        if problem is not None:
            return self._verdict(False, 0, problem)
        try:
            bits = await _check(proven)
        except verifier.VerificationError as err:
            return self._verdict(False, 0, f"the native proof is wrong: {err}")
        if bits < self.config.security_bits:
            return self._verdict(
                False,
                bits,
                f"the proof gives {bits} bits, less than the {self.config.security_bits}",
            )
        return self._verdict(True, bits, "the native verifier accepted the proof")

    def _verdict(self, valid: bool, bits: int, reason: str) -> Verdict:
        log.info("native verdict", extra={"valid": valid, "security_bits": bits, "reason": reason})
        return Verdict(valid=valid, mode=self.mode, security_bits=bits, reason=reason)


async def _check(proven: proof_file.ProofFile) -> int:
    statement = CairoAir(proven.public)
    return await trio.to_thread.run_sync(verifier.verify, statement, proven.data)


def _claim_mismatch(claim: Claim, program: Any, public_input: dict[str, Any]) -> str | None:
    """Why the proven public input is not the claim's; None when it is."""
    if program_hash(program) != claim.program_hash:
        return "the claimed program hash is not the body's"
    problem = air.mismatch(public_input, program, claim.output)
    if problem is None and public_input.get("layout") != claim.request.layout:
        problem = f"the proof is for layout {public_input.get('layout')!r}, not the job's"
    return problem or builtin_pointers_mismatch(public_input, program.builtins)


def builtin_pointers_mismatch(public_input: dict[str, Any], builtins: list[str]) -> str | None:
    """Why the builtin segments do not match the pointers main received and returned (the
    first and last public cells of the execution segment); None when they do."""
    try:
        cells = air.public_memory(public_input)
        segments = public_input["memory_segments"]
        execution = segments["execution"]
        returned_at = execution["stop_ptr"] - len(builtins)
        for k, name in enumerate(builtins):
            segment = segments[name]
            if cells.get(execution["begin_addr"] + k) != segment["begin_addr"]:
                return f"main did not receive the {name} segment's start"
            if cells.get(returned_at + k) != segment["stop_ptr"]:
                return f"main did not return the {name} segment's end"
    except (KeyError, TypeError, ValueError) as err:
        return f"the public input is malformed ({type(err).__name__}: {err})"
    return None
