"""The main job: a local network delegates, executes, verifies and pays a real Cairo job.

Starts the embedded devnet, deploys the Registry and FactRegistry, funds a delegator's escrow,
starts one validator and two executors as separate `node` processes on 127.0.0.1, and runs
`node delegate` for a fibonacci program until the Registry pays the executor. The executors
prove their runs with the built-in STARK prover and the Registry pays only facts of at least
MIN_SECURITY_BITS (`--reexecution`: re-execution, 0 bits). Progress goes to stderr; the
outcome to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from cairo_jobs.examples import EXAMPLES
from node.localnet import LocalNetwork

REWARD = 10**15
DEPOSIT = 10**18
MIN_SECURITY_BITS = 80
VALIDATOR, DELEGATOR, EXECUTOR_1, EXECUTOR_2 = range(4)


def step(started: float, what: str, **facts: object) -> None:
    shown = " ".join(f"{key}={value}" for key, value in facts.items())
    print(f"[{time.monotonic() - started:6.2f}s] {what} {shown}", file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    parser.add_argument("--n", type=int, default=10, help="fibonacci input (default 10)")
    parser.add_argument("--reexecution", action="store_true",
                        help="no proofs: executors' runs are re-executed (0 bits accepted)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep the nodes' data and logs in DIR (default: a temporary folder)")
    args = parser.parse_args()
    started = time.monotonic()
    if args.keep:
        outcome = run(args.keep, started, args.n, not args.reexecution)
    else:
        with tempfile.TemporaryDirectory(prefix="zetina-demo-") as work:
            outcome = run(Path(work), started, args.n, not args.reexecution)
    outcome["seconds"] = round(time.monotonic() - started, 2)
    if args.json:
        print(json.dumps(outcome, indent=2))
    else:
        print("\n".join(f"{key}: {value}" for key, value in outcome.items()))
    return 0 if outcome.get("state") == "paid" else 1


def run(work: Path, started: float, n: int, prove: bool) -> dict[str, object]:
    bits = MIN_SECURITY_BITS if prove else 0
    executor_settings = {"executor.prover": "native" if prove else "reexec"}
    with LocalNetwork(work, accounts=4, min_security_bits=bits) as network:
        step(started, "devnet up, contracts deployed", rpc=network.url,
             registry=hex(network.contracts()["registry"]), min_security_bits=bits)
        network.deposit(DELEGATOR, DEPOSIT)
        step(started, "delegator funded with node deposit", escrow=DEPOSIT)
        for role, name, account in (("validate", "validator", VALIDATOR),
                                    ("serve", "executor-1", EXECUTOR_1),
                                    ("serve", "executor-2", EXECUTOR_2)):
            node = network.start(role, name, account,
                                 settings=executor_settings if role == "serve" else None)
            step(started, f"{name} ready", peer=node.ready["peer_id"][:16] + "…")
        return delegate(network, started, n)


def delegate(network: LocalNetwork, started: float, n: int) -> dict[str, object]:
    """Run `node delegate --wait`, relaying its progress events as they come."""
    delegating = network.delegate(EXAMPLES["fibonacci"].path, {"n": n}, REWARD,
                                  account_index=DELEGATOR)
    for event in delegating.progress():
        details = {k: v for k, v in event.items() if k != "event"}
        step(started, f"delegator: {event['event']}", **details)
    return delegating.outcome()


if __name__ == "__main__":
    raise SystemExit(main())
