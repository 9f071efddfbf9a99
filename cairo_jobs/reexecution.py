"""A verifier that re-runs the job and compares: for validators with no proof backend (0 bits)."""

from __future__ import annotations

import dataclasses
import logging

from cairo_jobs.failures import FailureReason, RunFailure
from cairo_jobs.pool import RunnerPool
from cairo_jobs.proving import Claim, Verdict, VerificationMode

log = logging.getLogger("cairo_jobs.reexecution")

# Failures that are properties of the job itself: a claimed output for such a job is false.
# Other failures (timeout, memory, crash) are this machine's limits and decide nothing.
JOB_FAILURES = frozenset(
    {
        FailureReason.MALFORMED_PROGRAM,
        FailureReason.BAD_INPUT,
        FailureReason.UNKNOWN_LAYOUT,
        FailureReason.LAYOUT_MISMATCH,
        FailureReason.STEP_LIMIT,
        FailureReason.HINT_ERROR,
        FailureReason.EXECUTION_ERROR,
    }
)


class ReexecutionVerifier:
    """Verifies a claim by running the job again (plain mode) on `pool` and comparing."""

    mode = VerificationMode.REEXECUTION

    def __init__(self, pool: RunnerPool) -> None:
        self._pool = pool

    async def verify(self, claim: Claim) -> Verdict:
        request = dataclasses.replace(claim.request, proof_mode=False, work_dir=None)
        try:
            result = await self._pool.run(request)
        except RunFailure as failure:
            if failure.reason not in JOB_FAILURES:
                raise
            return self._verdict(False, f"the job does not run here: {failure}")
        if result.program_hash != claim.program_hash:
            return self._verdict(
                False,
                f"program hash {claim.program_hash:#x} claimed, the body's is "
                f"{result.program_hash:#x}",
            )
        if result.output != claim.output:
            return self._verdict(False, "the claimed output differs from the re-executed one")
        return self._verdict(True, f"re-executed in {result.steps} steps, same output")

    def _verdict(self, valid: bool, reason: str) -> Verdict:
        log.info("re-execution verdict", extra={"valid": valid, "reason": reason})
        return Verdict(valid=valid, mode=self.mode, security_bits=0, reason=reason)
