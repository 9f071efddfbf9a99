"""`node status`: the chain this node talks to, its account and Registry, and its stored jobs."""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

from node.config import Config
from node.errors import PartialResult, UserError
from node.store import JobStore, store_path


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    status = commands.add_parser(
        "status", parents=[common], help="chain, account, Registry settings and stored jobs"
    )
    status.set_defaults(handler=show_status)


def show_status(args: argparse.Namespace, config: Config) -> dict[str, Any]:
    """The local part always; then the chain part, or the error that kept it out."""
    from node.escrow import chain_status  # loads starknet-py
    from node.registry_access import ChainUnreachable

    jobs = _job_counts(config)
    local = {"rpc_url": config.chain.rpc_url, "chain_id": config.chain.chain_id,
             **({"jobs": jobs} if args.json else _jobs_text(jobs))}
    try:
        chain = chain_status(config, args.json)
    except UserError as exc:
        state = "unreachable" if isinstance(exc, ChainUnreachable) else "error"
        raise PartialResult(str(exc), {**local, "chain": state}, exc.exit_code) from None
    return {**local, "chain": "reachable", **chain}


def _job_counts(config: Config) -> dict[str, dict[str, int]]:
    """{role: {state: count}} of this node's store (read-only; empty without a store)."""
    path = store_path(config.data_dir)
    if not path.exists():
        return {}
    with JobStore.open(path) as store, store.snapshot():
        counts = Counter((job.role, job.state) for job in store.jobs())
    by_role: dict[str, dict[str, int]] = {}
    for (role, state), count in sorted(counts.items()):
        by_role.setdefault(role, {})[state] = count
    return by_role


def _jobs_text(counts: dict[str, dict[str, int]]) -> dict[str, str]:
    """One line per role: `jobs (executor): 2 paid, 1 running`."""
    if not counts:
        return {"jobs": "none"}
    return {f"jobs ({role})": ", ".join(f"{n} {state}" for state, n in states.items())
            for role, states in counts.items()}
