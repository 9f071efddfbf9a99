"""Picking the proof backend a node was configured with."""

from __future__ import annotations

import logging

from cairo_jobs.native.backend import NativeConfig, NativeProver, NativeVerifier
from cairo_jobs.pool import RunnerPool
from cairo_jobs.proving import Prover, Verifier
from cairo_jobs.reexecution import ReexecutionVerifier
from cairo_jobs.stone import StoneConfig, StoneProver, StoneVerifier

log = logging.getLogger("cairo_jobs.backends")


def make_prover(stone: StoneConfig | None, native: NativeConfig | None = None) -> Prover | None:
    """The Stone prover when configured (StoneNotInstalled if its binaries are missing), else
    the native prover when configured, else None."""
    if stone is not None:
        return StoneProver(stone)
    return None if native is None else NativeProver(native)


def make_verifier(
    pool: RunnerPool, stone: StoneConfig | None, native: NativeConfig | None = None
) -> Verifier:
    """Stone when configured, else the native verifier when configured; otherwise re-execution
    on `pool`, which gives 0 proof bits."""
    if stone is not None:
        return StoneVerifier(stone)
    if native is not None:
        return NativeVerifier(native)
    log.warning(
        "no proof backend configured; verifying by re-execution",
        extra={"mode": "reexecution", "security_bits": 0},
    )
    return ReexecutionVerifier(pool)
