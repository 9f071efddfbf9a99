"""The executor's admission checks: never start work it will not be paid for.

A header reaches the executor only after the gossip validator checked its encoding, chain,
registry, expiry and the delegator's signature. These checks add this executor's terms and the
Registry's view: time left, steps, reward, already paid, the delegator's escrow.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from node.chain import RegistryView
from p2p.messages import JobHeader

MIN_TIME_LEFT_S = 10.0
"""A job whose deadline is closer than this is not worth starting."""


@dataclass(frozen=True)
class Terms:
    """What this executor accepts."""

    max_steps: int
    min_reward: int


async def refusal(
    header: JobHeader,
    job_hash: int,
    terms: Terms,
    view: RegistryView,
    clock: Callable[[], float] = time.time,
) -> str | None:
    """Why this executor must not take the job, or None when it may bid."""
    if header.max_steps > terms.max_steps:
        return "too many steps"
    if header.reward < terms.min_reward:
        return "reward too low"
    if header.deadline - clock() < MIN_TIME_LEFT_S:
        return "deadline too close"
    if (await view.job_state(job_hash)).paid:
        return "already paid"
    if not await view.covers(header.delegator, header.reward):
        return "insolvent delegator"
    return None
