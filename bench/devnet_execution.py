"""Devnet execution cost in process (no HTTP): what each layer of the devnet's speed-ups gains
over stock cairo-lang, measured in the same run.

Measures, on one chain: a read-only entry-point run (`balance_of`), the account's `__validate__`
(ECDSA check), and a whole transfer transaction through the sequencer (parse and hash, validate,
execute with a nested call, fee). Variants, alternated run by run so load drifts cancel:
  - stock:  cairo-lang as shipped,
  - accel:  + devnet/accel.py (sympy-free modular helpers) and no post-run security scan,
  - setup:  + per-class cached runner set-up (devnet/runner.py), memoized syscall structs, a
            native Pedersen hash, a Jacobian EC-op and a native Poseidon permutation
            (devnet/accel.py parts 2-5), with cairo-lang's VM step,
  - devnet: + the short step path (cairo_jobs/step.py): what the devnet runs.
The process's garbage collector is settled as the devnet process does it (`settle_memory`).
Prints medians (ms) and the ratios against stock and against the previous variant.

--baseline-ref REV instead compares CPU time per transfer (`Chain.add`, after 3 warm-up
transfers) of this tree's devnet and commit REV's (extracted into a temporary directory), in
child processes alternating `--rounds` times; medians of the per-process medians.

    .venv/bin/python bench/devnet_execution.py [--n 10] [--baseline-ref REV [--rounds 5]]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from baseline import REPOSITORY, source_tree
from starkware.crypto.signature.signature import sign
from starkware.starknet.definitions.execution_mode import ExecutionMode
from starkware.starknet.public.abi import get_selector_from_name

from devnet import accel
from devnet.chain import FEE_TOKEN_ADDRESS, Chain, DevnetConfig
from devnet.cli import settle_memory
from devnet.execution import DevnetEntryPoint, TxContext, run_entry_point
from devnet.runner import DevnetVM
from devnet.transactions import Transaction, parse_transaction

BOUNDS = {"l1_gas": {"max_amount": "0x0", "max_price_per_unit": "0x0"},
          "l2_gas": {"max_amount": hex(10**8), "max_price_per_unit": hex(10**9)},
          "l1_data_gas": {"max_amount": hex(10**4), "max_price_per_unit": hex(10**9)}}


def median_ms(action: Callable[[], Any], n: int) -> float:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def transfer_calls(recipient: int) -> list[int]:
    return [1, FEE_TOKEN_ADDRESS, get_selector_from_name("transfer"), 3, recipient, 1, 0]


def signed_transfer(chain: Chain, nonce: int) -> Transaction:
    """A v3 invoke from account 0, signed with its key."""
    account = chain.accounts[0]
    body = {"type": "INVOKE", "version": "0x3", "sender_address": hex(account.address),
            "nonce": hex(nonce), "signature": [], "resource_bounds": BOUNDS,
            "calldata": [hex(felt) for felt in transfer_calls(0x1234)]}
    unsigned = parse_transaction(body, chain.chain_id)
    r, s = sign(unsigned.hash, account.private_key)
    return parse_transaction({**body, "signature": [hex(r), hex(s)]}, chain.chain_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--baseline-ref", help="compare CPU per transfer with this commit's")
    parser.add_argument("--rounds", type=int, default=5, help="alternations with --baseline-ref")
    args = parser.parse_args()
    if args.baseline_ref:
        compare_with_baseline(args.baseline_ref, args.n, args.rounds)
        return
    n = args.n
    chain = Chain(DevnetConfig(accounts=1))
    chain.create_genesis()
    settle_memory()
    account = chain.accounts[0]
    config = chain.general_config

    def balance_of() -> None:
        run_entry_point(chain.state.begin(chain.block_info()), config, contract=FEE_TOKEN_ADDRESS,
                        selector=get_selector_from_name("balance_of"), calldata=[account.address])

    tx = signed_transfer(chain, 0)
    context = TxContext(account=account.address, tx_hash=tx.hash, signature=tx.signature)

    def validate() -> None:
        run_entry_point(chain.state.begin(chain.block_info()), config, contract=account.address,
                        selector=get_selector_from_name("__validate__"), calldata=tx.calldata,
                        context=context, mode=ExecutionMode.VALIDATE)

    presigned = iter([signed_transfer(chain, nonce) for nonce in range(len(VARIANTS) * n)])
    workloads = {"entry point balance_of": balance_of, "account __validate__ (ECDSA)": validate,
                 "transfer transaction (Chain.add)": lambda: chain.add(next(presigned))}
    print(f"{'workload':34}" + "".join(f"{name:>10}" for name in VARIANTS)
          + "  x stock  x previous", flush=True)
    for name, action in workloads.items():
        medians = interleaved_medians(action, n)
        figures = "".join(f"{medians[variant]:8.1f}ms" for variant in VARIANTS)
        print(f"{name:34}{figures}  x{medians['stock'] / medians['devnet']:5.2f}"
              f"  x{medians['setup'] / medians['devnet']:5.2f}", flush=True)


VARIANTS = ("stock", "accel", "setup", "devnet")


def use_variant(variant: str) -> None:
    """Switch the devnet's speed-ups on up to `variant` (see the module docstring)."""
    if variant == "stock":
        accel.uninstall()
    else:
        newer = variant in ("setup", "devnet")
        accel.install(structs=newer, pedersen=newer, ec_op=newer, poseidon=newer)
    DevnetEntryPoint.skip_security_scan = variant != "stock"
    DevnetEntryPoint.cached_setup = variant in ("setup", "devnet")
    DevnetVM.short_steps = variant == "devnet"


def interleaved_medians(action: Callable[[], Any], n: int) -> dict[str, float]:
    """Median ms of `action` per variant, alternating variants run by run."""
    samples: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    for _ in range(n):
        for variant in VARIANTS:
            use_variant(variant)
            samples[variant].append(median_ms(action, 1))
    use_variant("devnet")
    return {variant: statistics.median(times) for variant, times in samples.items()}


# Run in a child process from a source tree: that tree's devnet, the same workload.
CPU_PER_TRANSFER = """
import statistics, sys, time
sys.path.insert(0, "bench")
from devnet_execution import signed_transfer
from devnet.chain import Chain, DevnetConfig
from devnet.cli import settle_memory
chain = Chain(DevnetConfig(accounts=1))
chain.create_genesis()
settle_memory()
txs = [signed_transfer(chain, nonce) for nonce in range(3 + int(sys.argv[1]))]
samples = []
for tx in txs:
    started = time.process_time()
    chain.add(tx)
    samples.append((time.process_time() - started) * 1000)
print(statistics.median(samples[3:]))
"""


def cpu_per_transfer(tree: Path, n: int) -> float:
    """Median CPU ms of n transfers in a fresh process running `tree`'s devnet."""
    output = subprocess.run([sys.executable, "-c", CPU_PER_TRANSFER, str(n)], cwd=tree,
                            capture_output=True, text=True, check=True, timeout=600).stdout
    return float(output)


def compare_with_baseline(ref: str, n: int, rounds: int) -> None:
    print(f"CPU ms per transfer (Chain.add), median of {n} per process, {rounds} rounds")
    base, now = [], []
    with source_tree(ref) as tree:
        for _ in range(rounds):
            base.append(cpu_per_transfer(tree, n))
            now.append(cpu_per_transfer(REPOSITORY, n))
            print(f"  base {base[-1]:7.2f}  now {now[-1]:7.2f}  x{base[-1] / now[-1]:.2f}",
                  flush=True)
    ratios = [b / c for b, c in zip(base, now, strict=True)]
    print(f"median: base {statistics.median(base):.2f} ms, now {statistics.median(now):.2f} ms, "
          f"x{statistics.median(base) / statistics.median(now):.2f} "
          f"(median of round ratios x{statistics.median(ratios):.2f})")


if __name__ == "__main__":
    main()
