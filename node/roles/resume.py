"""Delegated jobs an earlier run left open, taken up again (`node delegate --resume`).

A `node delegate` killed after it published its job leaves it `published`, `bidding` or
`assigned` in the store, with what a later run needs (`KeptDelegation`). `jobs_to_resume`
picks those of this account (or refuses one job hash, saying why); `resume_job` first settles
the job from the Registry as `left_jobs` does (paid while no run followed it: recorded paid,
never assigned again; deadline passed: expired), else delegates it again from where it was.
"""

from __future__ import annotations

import time

from node.errors import UserError
from node.roles.delegator import DEADLINE_GRACE_S, Delegator, Outcome, Progress
from node.roles.left_jobs import settle
from node.store import FINAL_STATES, JobStore, StoredJob, UnknownJob

RESUME_HINT = "an earlier run left these jobs open: take them up with `node delegate --resume`"


class NoSuchJobToResume(UserError):
    """A job hash that names no job this node delegated (bad input)."""

    exit_code = 2


def left_open(store: JobStore, account: int) -> list[StoredJob]:
    """This account's delegated jobs that are not final and keep what a resume needs."""
    return [job for job in store.unfinished("delegator")
            if job.signed_header.header.delegator == account
            and store.kept_delegation(job.job_hash) is not None]


def resumable_now(store: JobStore, account: int) -> list[StoredJob]:
    """The jobs of `left_open` whose deadline has not passed: what a plain run hints at."""
    now = time.time()
    return [job for job in left_open(store, account) if job.signed_header.header.deadline > now]


def jobs_to_resume(store: JobStore, account: int, job: int | None) -> list[StoredJob]:
    """The job `job` (every job left open if None), refused with why if it cannot be taken up."""
    if job is None:
        return left_open(store, account)
    try:
        stored = store.get(job)
    except UnknownJob:
        raise NoSuchJobToResume(f"no job {job:#x} in {store.path}: `node jobs --role "
                                "delegator` lists the jobs this node delegated") from None
    delegator = stored.signed_header.header.delegator
    if stored.role != "delegator" or delegator != account:
        raise NoSuchJobToResume(
            f"job {job:#x} is not one this node delegated (role {stored.role}, delegator "
            f"{delegator:#x}; this node is {account:#x}): resume it from the node that "
            "delegated it")
    if stored.state == "paid":
        raise UserError(f"job {job:#x} is already paid (tx {stored.payout_tx:#x}): there is "
                        "nothing to take up, and it is never paid twice")
    if stored.state in FINAL_STATES:
        raise UserError(f"job {job:#x} is {stored.state}: it cannot be taken up; delegate its "
                        "program again as a new job")
    if store.kept_delegation(job) is None:
        raise UserError(f"job {job:#x} was delegated by an older node that kept no body for it: "
                        "it cannot be taken up; a plain `node delegate` run settles it from the "
                        "Registry")
    return [stored]


async def resume_job(
    delegator: Delegator, job: StoredJob, progress: Progress, *, wait: bool = True
) -> Outcome:
    """Settle `job` from the Registry if it was paid or expired meanwhile, else delegate it
    again (`delegator.run` must have started, and `job` be in `delegator.taken_up`)."""
    services = delegator.services
    settled = await settle(services, job, DEADLINE_GRACE_S)
    if settled is None:
        kept = services.store.kept_delegation(job.job_hash)
        assert kept is not None  # jobs_to_resume chose it for that
        return await delegator.resume(job, kept, progress, wait=wait)
    progress(settled.state, {"job": hex(job.job_hash),
                             "reason": "settled from the Registry: it ended while no run "
                                       "followed it"})
    paid = settled.payment is not None
    return Outcome(job.job_hash, settled.state, job.attempt + paid, settled.payment)
