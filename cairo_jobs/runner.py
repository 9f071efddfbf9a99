"""The public face of the Cairo runner: requests, results, failures and the worker pool.

async with RunnerPool(workers=2) as pool:
    result = await pool.run(RunRequest(program=compiled_json, program_input={"n": 10}))
"""

from cairo_jobs.failures import FailureReason, RunFailure
from cairo_jobs.model import ProofArtifacts, RunRequest, RunResult, Timings
from cairo_jobs.pool import RunnerPool
from cairo_jobs.vm import SUPPORTED_LAYOUTS

__all__ = [
    "SUPPORTED_LAYOUTS",
    "FailureReason",
    "ProofArtifacts",
    "RunFailure",
    "RunRequest",
    "RunResult",
    "RunnerPool",
    "Timings",
]
