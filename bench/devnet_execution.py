"""Devnet execution cost in process (no HTTP): where an invoke's time goes, and what the
devnet's speed-ups (devnet/accel.py, no security scan) gain over stock cairo-lang in the same run.

Measures, on one chain: a read-only entry-point run (`balance_of`), the account's `__validate__`
(ECDSA check), and a whole transfer transaction through the sequencer (parse and hash, validate,
execute with a nested call, fee); first with stock cairo-lang (the baseline), then as the devnet
runs; prints medians and the speed-up ratios.

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
from devnet.execution import DevnetEntryPoint, TxContext, run_entry_point
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

    presigned = iter([signed_transfer(chain, nonce) for nonce in range(2 * n)])
    workloads = {"entry point balance_of": balance_of, "account __validate__ (ECDSA)": validate,
                 "transfer transaction (Chain.add)": lambda: chain.add(next(presigned))}
    for name, action in workloads.items():
        stock, devnet = interleaved_medians(action, n)
        print(f"{name:34} stock {stock:8.1f} ms  devnet {devnet:8.1f} ms  x{stock / devnet:4.2f}",
              flush=True)


def use_speedups(enabled: bool) -> None:
    """Switch between stock cairo-lang and the devnet's speed-ups."""
    if enabled:
        accel.install()
    else:
        accel.uninstall()
    DevnetEntryPoint.skip_security_scan = enabled


def interleaved_medians(action: Callable[[], Any], n: int) -> tuple[float, float]:
    """Median ms of `action` stock and with speed-ups, alternating runs so load drifts cancel."""
    samples: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(n):
        for enabled in (False, True):
            use_speedups(enabled)
            samples[enabled].append(median_ms(action, 1))
    use_speedups(True)
    return statistics.median(samples[False]), statistics.median(samples[True])

if __name__ == "__main__":
    main()
