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

    .venv/bin/python bench/devnet_execution.py [--n 10]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

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
    n = parser.parse_args().n
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


if __name__ == "__main__":
    main()
