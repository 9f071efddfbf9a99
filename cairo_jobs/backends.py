"""Picking the proof backend a node was configured with."""

from __future__ import annotations

import logging

from cairo_jobs.pool import RunnerPool
from cairo_jobs.proving import Prover, Verifier
from cairo_jobs.reexecution import ReexecutionVerifier
from cairo_jobs.stone import StoneConfig, StoneProver, StoneVerifier

log = logging.getLogger("cairo_jobs.backends")


def make_prover(stone: StoneConfig | None) -> Prover | None:
    """The Stone prover when configured (StoneNotInstalled if its binaries are missing)."""
    return None if stone is None else StoneProver(stone)


def make_verifier(pool: RunnerPool, stone: StoneConfig | None) -> Verifier:
    """Stone when configured; otherwise re-execution on `pool`, which gives 0 proof bits."""
    if stone is not None:
        return StoneVerifier(stone)
    log.warning(
        "no proof backend configured; verifying by re-execution",
        extra={"mode": "reexecution", "security_bits": 0},
    )
    return ReexecutionVerifier(pool)
