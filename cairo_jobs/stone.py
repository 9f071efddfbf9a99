"""The Stone backend: `cpu_air_prover` / `cpu_air_verifier` on proof-mode artifacts.

FRI parameters are derived from the trace length for a target security level. Conjectured
security is n_queries * log_n_cosets + proof_of_work_bits (bits).
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

from cairo_jobs import air
from cairo_jobs.child_process import run_bounded
from cairo_jobs.failures import RunFailure
from cairo_jobs.model import RunResult
from cairo_jobs.program import load_program, program_hash
from cairo_jobs.proving import Claim, Proof, Verdict, VerificationMode

log = logging.getLogger("cairo_jobs.stone")

PROVER = "cpu_air_prover"
VERIFIER = "cpu_air_verifier"
TRACE_ROWS_PER_STEP_LOG = 4  # Stone's CPU AIR uses 16 trace rows per Cairo step.
MAX_FRI_STEP = 4
PROVER_CONFIG = {
    "cached_lde_config": {"store_full_lde": False, "use_fft_for_eval": False},
    "constraint_polynomial_task_size": 256,
    "n_out_of_memory_merkle_layers": 1,
    "table_prover_n_tasks_per_segment": 32,
}


class StoneNotInstalled(RuntimeError):
    """The Stone binaries are not on PATH nor configured."""


class StoneError(RuntimeError):
    """A Stone binary failed; the message carries its output."""


class StoneTimeout(StoneError):
    """A Stone binary ran past the configured timeout and was killed."""


@dataclass(frozen=True)
class StoneConfig:
    """Where the binaries are (None: look on PATH), the security target and time limits."""

    prover: Path | None = None
    verifier: Path | None = None
    security_bits: int = 80
    log_n_cosets: int = 4
    proof_of_work_bits: int = 24
    last_layer_degree_bound: int = 64
    timeout: float = 3600.0


@dataclass(frozen=True)
class FriParameters:
    """The `stark` part of Stone's parameter file."""

    fri_step_list: list[int]
    last_layer_degree_bound: int
    n_queries: int
    proof_of_work_bits: int
    log_n_cosets: int

    @property
    def security_bits(self) -> int:
        return self.n_queries * self.log_n_cosets + self.proof_of_work_bits

    def parameter_file(self) -> dict:
        """The content of the `--parameter_file` Stone reads."""
        return {
            "field": "PrimeField0",
            "stark": {
                "fri": {
                    "fri_step_list": self.fri_step_list,
                    "last_layer_degree_bound": self.last_layer_degree_bound,
                    "n_queries": self.n_queries,
                    "proof_of_work_bits": self.proof_of_work_bits,
                },
                "log_n_cosets": self.log_n_cosets,
            },
            "use_extension_field": False,
        }


def fri_parameters(trace_steps: int, config: StoneConfig = StoneConfig()) -> FriParameters:
    """FRI parameters for a trace of `trace_steps` (a power of two) at `config.security_bits`.

    Stone needs log2(last_layer_degree_bound) + sum(fri_step_list) = log2(trace_steps) + 4.
    """
    if trace_steps < 1 or trace_steps & (trace_steps - 1):
        raise ValueError(f"trace length {trace_steps} is not a power of two; run in proof mode")
    degree_log = trace_steps.bit_length() - 1 + TRACE_ROWS_PER_STEP_LOG
    last_layer_log = min(config.last_layer_degree_bound.bit_length() - 1, degree_log)
    remaining = degree_log - last_layer_log
    steps = [0] + [MAX_FRI_STEP] * (remaining // MAX_FRI_STEP)
    if remaining % MAX_FRI_STEP:
        steps.append(remaining % MAX_FRI_STEP)
    queries_bits = max(config.security_bits - config.proof_of_work_bits, 1)
    return FriParameters(
        fri_step_list=steps,
        last_layer_degree_bound=2**last_layer_log,
        n_queries=math.ceil(queries_bits / config.log_n_cosets),
        proof_of_work_bits=config.proof_of_work_bits,
        log_n_cosets=config.log_n_cosets,
    )


def find_binary(name: str, configured: Path | None) -> Path:
    """The configured binary if it exists, else the one on PATH; StoneNotInstalled otherwise."""
    found = str(configured) if configured is not None else shutil.which(name)
    if found is None or not Path(found).is_file():
        where = f"at {configured}" if configured is not None else "on PATH"
        raise StoneNotInstalled(
            f"{name} not found {where}; install the Stone prover with scripts/install-stone "
            "(needs internet) or give its path in StoneConfig(prover=..., verifier=...)"
        )
    return Path(found)


async def _run_binary(role: str, args: list[str], timeout: float) -> None:
    """Runs a Stone binary (`role` names it in errors); StoneError when it fails."""
    await run_bounded(
        args,
        timeout,
        on_timeout=lambda: StoneTimeout(
            f"{role} ran longer than {timeout:g} s and was stopped; raise the stone timeout"
        ),
        on_failure=lambda status, output: StoneError(f"{role} failed (exit {status}): {output}"),
    )


class StoneVerifier:
    """Verifies Stone proofs with `cpu_air_verifier` and ties them to the claim."""

    mode = VerificationMode.STONE

    def __init__(self, config: StoneConfig = StoneConfig()) -> None:
        self.config = config
        self.binary = find_binary(VERIFIER, config.verifier)

    async def check_proof(self, proof_path: Path) -> None:
        """Raises StoneError when the verifier rejects the proof file."""
        await _run_binary(
            VERIFIER, [str(self.binary), f"--in_file={proof_path}"], self.config.timeout
        )

    async def verify(self, claim: Claim) -> Verdict:
        if claim.proof is None or claim.proof.backend is not VerificationMode.STONE:
            return self._verdict(False, 0, "the claim carries no Stone proof")
        try:
            program = load_program(claim.request.program_text())
            document = json.loads(claim.proof.path.read_text())
        except RunFailure as failure:
            return self._verdict(False, 0, f"the job body is not runnable: {failure.message}")
        except (OSError, ValueError) as err:
            return self._verdict(False, 0, f"the proof file cannot be read: {err}")
        if program_hash(program) != claim.program_hash:
            return self._verdict(False, 0, "the claimed program hash is not the body's")
        bits = _proof_security_bits(document)
        public_input = document.get("public_input")
        problem = air.mismatch(public_input, program, claim.output)
        if problem is None and public_input.get("layout") != claim.request.layout:
            problem = f"the proof is for layout {public_input.get('layout')!r}, not the job's"
        if problem is None and bits < self.config.security_bits:
            problem = f"the proof gives {bits} bits, less than the {self.config.security_bits}"
        if problem is not None:
            return self._verdict(False, bits, problem)
        try:
            await self.check_proof(claim.proof.path)
        except StoneTimeout:
            raise  # Undecided: this machine's limit, not the proof's fault.
        except StoneError as err:
            return self._verdict(False, bits, str(err))
        return self._verdict(True, bits, "the Stone verifier accepted the proof")

    def _verdict(self, valid: bool, bits: int, reason: str) -> Verdict:
        log.info("stone verdict", extra={"valid": valid, "security_bits": bits, "reason": reason})
        return Verdict(valid=valid, mode=self.mode, security_bits=bits, reason=reason)


class StoneProver:
    """Proves proof-mode runs with `cpu_air_prover`, then verifies the proof locally."""

    def __init__(self, config: StoneConfig = StoneConfig()) -> None:
        self.config = config
        self.binary = find_binary(PROVER, config.prover)
        self.verifier = StoneVerifier(config)

    async def prove(self, result: RunResult) -> Proof:
        files = result.artifacts
        if files is None:
            raise ValueError("the run has no proof-mode artifacts; run it with proof_mode=True")
        fri = fri_parameters(result.trace_steps, self.config)
        work_dir = files.public_input.parent
        parameters = work_dir / "cpu_air_params.json"
        prover_config = work_dir / "cpu_air_prover_config.json"
        proof_path = work_dir / "proof.json"
        parameters.write_text(json.dumps(fri.parameter_file(), indent=4))
        prover_config.write_text(json.dumps(PROVER_CONFIG, indent=4))
        await _run_binary(
            PROVER,
            [
                str(self.binary),
                f"--out_file={proof_path}",
                f"--private_input_file={files.private_input}",
                f"--public_input_file={files.public_input}",
                f"--prover_config_file={prover_config}",
                f"--parameter_file={parameters}",
            ],
            self.config.timeout,
        )
        await self.verifier.check_proof(proof_path)
        log.info(
            "stone proof made",
            extra={"security_bits": fri.security_bits, "trace_steps": result.trace_steps},
        )
        return Proof(VerificationMode.STONE, proof_path, fri.security_bits)


def _proof_security_bits(document: dict) -> int:
    try:
        stark = document["proof_parameters"]["stark"]
        fri = stark["fri"]
        return fri["n_queries"] * stark["log_n_cosets"] + fri["proof_of_work_bits"]
    except (KeyError, TypeError):
        return 0
