"""`node jobs`: the jobs this node's store holds, their states and history."""

from __future__ import annotations

import argparse
from typing import Any

from node.config import Config
from node.store import ROLES, STATES, JobStore, StoredJob, store_path


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    jobs = commands.add_parser("jobs", parents=[common], help="list the jobs in this node's store")
    jobs.add_argument("--state", action="append", choices=STATES, help="only jobs in this state")
    jobs.add_argument("--role", choices=ROLES, help="only jobs this node had this role in")
    jobs.add_argument("--history", action="store_true", help="include every state change")
    jobs.set_defaults(handler=list_jobs)


def list_jobs(args: argparse.Namespace, config: Config) -> dict[str, Any]:
    path = store_path(config.data_dir)
    if not path.exists():
        return {"store": str(path), "jobs": []}
    with JobStore.open(path) as store, store.snapshot():
        found = store.jobs(states=args.state, role=args.role)
        described = [
            _describe(job, store.history(job.job_hash) if args.history else None) for job in found
        ]
    if args.json:
        return {"store": str(path), "jobs": described}
    lines = [
        f"{j['job_hash'][:18]}… {j['role']:<9} {j['state']:<9} attempt {j['attempt']}"
        for j in described
    ]
    return {"store": str(path), "jobs": len(described), **dict(enumerate(lines, 1))}


def _describe(job: StoredJob, history: list | None) -> dict[str, Any]:
    described: dict[str, Any] = {
        "job_hash": hex(job.job_hash),
        "role": job.role,
        "state": job.state,
        "attempt": job.attempt,
        "executor": None if job.executor is None else hex(job.executor),
        "output": None if job.output is None else [hex(felt) for felt in job.output],
        "payout_tx": None if job.payout_tx is None else hex(job.payout_tx),
        "created_at": job.created_at,
        "updated_at": job.updated_at,
    }
    if history is not None:
        described["history"] = [
            {"from": e.from_state, "to": e.to_state, "reason": e.reason, "at": e.at}
            for e in history
        ]
    return described
