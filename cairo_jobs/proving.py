"""The `Prover` / `Verifier` interface over proof-mode runs, and what they exchange.

A `Claim` says "this job (request) has this output"; a `Verifier` checks it, with a proof or
by other means, and answers with a `Verdict` that names its mode and the security it gives.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cairo_jobs.facts import fact_hash
from cairo_jobs.model import RunRequest, RunResult


class VerificationMode(str, enum.Enum):
    """How a claim was checked; goes on the wire with the witness."""

    STONE = "stone"
    NATIVE = "native"
    REEXECUTION = "reexecution"

    @property
    def wire_name(self) -> str:
        """The witness's `mode` on the wire (p2p.messages.VERIFICATION_MODES)."""
        return "reexec" if self is VerificationMode.REEXECUTION else self.value


@dataclass(frozen=True)
class Proof:
    """A proof file made by a backend, and the conjectured security it gives (in bits)."""

    backend: VerificationMode
    path: Path
    security_bits: int


@dataclass(frozen=True)
class Claim:
    """An executor's claim: running `request` gives `output` for the program `program_hash`."""

    request: RunRequest
    program_hash: int
    output: list[int]
    proof: Proof | None = None

    @property
    def fact(self) -> int:
        return fact_hash(self.program_hash, self.output)


@dataclass(frozen=True)
class Verdict:
    """The answer of a verifier. `security_bits` is 0 for re-execution (no proof involved)."""

    valid: bool
    mode: VerificationMode
    security_bits: int
    reason: str


class Prover(Protocol):
    """Turns a proof-mode run (its artifact files) into a proof, verified before it returns."""

    async def prove(self, result: RunResult) -> Proof: ...


class Verifier(Protocol):
    """Checks a claim. Raises (rather than answering invalid) when it cannot decide."""

    async def verify(self, claim: Claim) -> Verdict: ...
