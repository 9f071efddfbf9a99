"""Delegated jobs that an earlier run of this node left open, settled from the Registry.

`node delegate` without `--wait` returns once the job's witness is announced, and a stopped one
leaves its job where it was: the store would show it `bidding` or `assigned` for ever. Each
run of the delegator looks at those jobs once, in the background: a job the Registry paid is
recorded paid (with its payment's transaction), one whose deadline has passed unpaid is
expired (the reward stayed in the escrow); the others are left for a later run, or taken up
again by `node delegate --resume` (which settles each job with `settle` first).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from starknet_py.net.client_errors import ClientError

from node.chain import ChainError
from node.roles.payments import Payment, find_payment, record_payment
from node.roles.services import Services
from node.store import StoredJob, StoreError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settled:
    """How a job left open ended while no run followed it."""

    state: str
    """`paid` or `expired`."""
    payment: Payment | None = None


async def settle_left_jobs(services: Services, jobs: Sequence[StoredJob], grace: float) -> None:
    """Settle each of `jobs` (this node's open delegated jobs when it started) that the
    Registry paid, or whose deadline passed more than `grace` seconds ago."""
    for job in jobs:
        try:
            await settle(services, job, grace)
        except (ChainError, ClientError, OSError, StoreError) as error:
            log.warning("cannot settle a job left open; a later run tries again",
                        extra={"job": hex(job.job_hash), "error": str(error)})


async def settle(services: Services, job: StoredJob, grace: float) -> Settled | None:
    """Record the job paid if the Registry paid it, or expired if its deadline passed more than
    `grace` seconds ago; None (nothing recorded) if it is still open."""
    key = job.job_hash
    if (await services.view.job_state(key)).paid:
        payment = await find_payment(services, key)
        if payment is None:
            raise ChainError("the Registry says the job is paid but shows no JobCompleted")
        record_payment(services, key, payment)
        log.info("job left open was paid", extra={"job": hex(key), "executor":
                                                   hex(payment.executor),
                                                   "tx": hex(payment.transaction_hash)})
        return Settled("paid", payment)
    if time.time() > job.signed_header.header.deadline + grace:
        services.transition(key, "expired", "deadline passed while no run followed it; the "
                                            "reward stays in the escrow")
        log.info("job left open expired", extra={"job": hex(key)})
        return Settled("expired")
    return None
