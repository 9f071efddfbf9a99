"""The request and result types of a Cairo run, and their plain-dict form for the worker pipe."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cairo_jobs.facts import fact_hash
from cairo_jobs.failures import FailureReason, RunFailure

DEFAULT_LAYOUT = "small"
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MEMORY_CAP = 2 * 1024**3


@dataclass(frozen=True)
class RunRequest:
    """One Cairo run: the compiled program, its input, the layout and the limits.

    `program` is the compiled program JSON as produced by cairo-compile (bytes or str), or the
    same already parsed into a dict. In proof mode the artifacts go to `work_dir` (a fresh
    temporary directory when None; the caller owns it and deletes it). `allowed_hints` lists
    the hint codes the program may contain (None: any hint runs; only for trusted programs).
    """

    program: bytes | str | Mapping[str, Any]
    program_input: Mapping[str, Any] = field(default_factory=dict)
    layout: str = DEFAULT_LAYOUT
    max_steps: int = 1_000_000
    proof_mode: bool = False
    timeout: float = DEFAULT_TIMEOUT_S
    memory_cap: int = DEFAULT_MEMORY_CAP
    work_dir: Path | None = None
    allowed_hints: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.program_input, Mapping):
            raise RunFailure(
                FailureReason.BAD_INPUT,
                f"program input must be a JSON object, got {type(self.program_input).__name__}",
            )
        for name in ("max_steps", "memory_cap"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise RunFailure(FailureReason.BAD_REQUEST, f"{name} must be a positive integer")
        if not isinstance(self.timeout, (int, float)) or not self.timeout > 0:
            raise RunFailure(FailureReason.BAD_REQUEST, "timeout must be a positive number")
        if not isinstance(self.layout, str):
            raise RunFailure(FailureReason.BAD_REQUEST, "layout must be a layout name string")

    @classmethod
    def from_body(
        cls, program: bytes, program_input: bytes, layout: str, **limits: Any
    ) -> RunRequest:
        """Builds a request from a job body's parts (program JSON bytes, input JSON bytes)."""
        try:
            parsed_input = json.loads(program_input)
        except (ValueError, TypeError) as err:
            raise RunFailure(
                FailureReason.BAD_INPUT, f"program input is not valid JSON: {err}"
            ) from None
        return cls(program=program, program_input=parsed_input, layout=layout, **limits)

    def program_text(self) -> str:
        """The program as JSON text; raises MALFORMED_PROGRAM when the bytes are not UTF-8."""
        if isinstance(self.program, Mapping):
            return json.dumps(self.program)
        if isinstance(self.program, str):
            return self.program
        try:
            return bytes(self.program).decode("utf-8")
        except UnicodeDecodeError as err:
            raise RunFailure(
                FailureReason.MALFORMED_PROGRAM,
                f"program is not UTF-8 JSON ({err}); send the output of cairo-compile",
            ) from None

    def to_wire(self) -> dict[str, Any]:
        return {
            "program": self.program_text(),
            "program_input": dict(self.program_input),
            "layout": self.layout,
            "max_steps": self.max_steps,
            "proof_mode": self.proof_mode,
            "timeout": self.timeout,
            "memory_cap": self.memory_cap,
            "work_dir": None if self.work_dir is None else str(self.work_dir),
            "allowed_hints": None if self.allowed_hints is None else sorted(self.allowed_hints),
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> RunRequest:
        work_dir, allowed_hints = data.pop("work_dir"), data.pop("allowed_hints")
        return cls(
            **data,
            work_dir=None if work_dir is None else Path(work_dir),
            allowed_hints=None if allowed_hints is None else frozenset(allowed_hints),
        )


@dataclass(frozen=True)
class ProofArtifacts:
    """The proof-mode files a prover needs (as written by cairo-run)."""

    public_input: Path
    private_input: Path
    trace: Path
    memory: Path


@dataclass(frozen=True)
class Timings:
    """Wall-clock seconds of each phase of a run, measured inside the worker, and CPU seconds."""

    load: float
    run: float
    artifacts: float
    total: float
    cpu: float


@dataclass(frozen=True)
class RunResult:
    """A finished run: output felts (in [0, p)), steps executed, program hash and timings.

    `steps` counts the program's own steps; `trace_steps` the trace length (padded to a power
    of two in proof mode, equal to `steps` otherwise).
    """

    output: list[int]
    steps: int
    trace_steps: int
    program_hash: int
    layout: str
    timings: Timings
    artifacts: ProofArtifacts | None = None

    @property
    def fact(self) -> int:
        """The fact a verifier registers for this run (see `cairo_jobs.facts.fact_hash`)."""
        return fact_hash(self.program_hash, self.output)

    def to_wire(self) -> dict[str, Any]:
        data = asdict(self)
        data["output"] = [hex(x) for x in self.output]
        data["program_hash"] = hex(self.program_hash)
        if self.artifacts is not None:
            data["artifacts"] = {k: str(v) for k, v in data["artifacts"].items()}
        return data

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> RunResult:
        artifacts = data["artifacts"]
        return cls(
            output=[int(x, 16) for x in data["output"]],
            steps=data["steps"],
            trace_steps=data["trace_steps"],
            program_hash=int(data["program_hash"], 16),
            layout=data["layout"],
            timings=Timings(**data["timings"]),
            artifacts=None
            if artifacts is None
            else ProofArtifacts(**{k: Path(v) for k, v in artifacts.items()}),
        )
