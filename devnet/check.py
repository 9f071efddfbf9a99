"""Checks of a Starknet JSON-RPC node with starknet-py only: run against this devnet or any other.

    python -m devnet.check http://127.0.0.1:5050 [--address A --private-key K]

Without an account, the node's `devnet_getPredeployedAccounts` (as starknet-devnet offers it)
provides one. Each check prints PASS or FAIL; the exit code is the number of failures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from starknet_py.common import create_casm_class
from starknet_py.constants import STRK_FEE_CONTRACT_ADDRESS
from starknet_py.contract import Contract
from starknet_py.hash.address import compute_address
from starknet_py.hash.casm_class_hash import compute_casm_class_hash
from starknet_py.hash.selector import get_selector_from_name
from starknet_py.net.account.account import Account
from starknet_py.net.client_errors import ClientError
from starknet_py.net.client_models import (
    Call,
    ResourceBounds,
    ResourceBoundsMapping,
    TransactionExecutionStatus,
)
from starknet_py.net.full_node_client import FullNodeClient
from starknet_py.net.signer.key_pair import KeyPair
from starknet_py.transaction_errors import TransactionRevertedError

from devnet.classes import builtin_class
from devnet.toolchain import artifact_paths

FEE_TOKEN = int(STRK_FEE_CONTRACT_ADDRESS, 16)
TRANSFER = get_selector_from_name("transfer")
CLASS_ALREADY_DECLARED = 51
GENEROUS_BOUNDS = ResourceBoundsMapping(
    l1_gas=ResourceBounds(max_amount=0, max_price_per_unit=10**12),
    l1_data_gas=ResourceBounds(max_amount=10**5, max_price_per_unit=10**12),
    l2_gas=ResourceBounds(max_amount=10**8, max_price_per_unit=10**10),
)


@dataclass
class Context:
    """What the checks share: the node, a funded account, and what earlier checks created."""

    client: FullNodeClient
    account: Account
    sample_class_hash: int = 0
    sample: Contract | None = None
    notes: dict[str, Any] = field(default_factory=dict)


async def predeployed_account(url: str) -> tuple[int, int]:
    """(address, private key) of the node's first predeployed account."""
    payload = {"jsonrpc": "2.0", "id": 1, "method": "devnet_getPredeployedAccounts"}
    async with aiohttp.ClientSession() as session, session.post(url, json=payload) as reply:
        account = (await reply.json())["result"][0]
    return int(account["address"], 16), int(account["private_key"], 16)


async def make_context(url: str, address: int, private_key: int) -> Context:
    client = FullNodeClient(node_url=url)
    chain = await client.get_chain_id()
    account = Account(client=client, address=address,
                      key_pair=KeyPair.from_private_key(private_key), chain=int(chain, 16))
    return Context(client, account)


async def transfer(account: Account, recipient: int, amount: int, **options: Any) -> Any:
    call = Call(to_addr=FEE_TOKEN, selector=TRANSFER, calldata=[recipient, amount, 0])
    if "resource_bounds" not in options:
        options["auto_estimate"] = True
    sent = await account.execute_v3(calls=[call], **options)
    return await account.client.wait_for_tx(sent.transaction_hash)


async def expect_client_error(action: Awaitable[Any], code: int) -> ClientError:
    try:
        await action
    except ClientError as error:
        assert error.code == code, f"expected error {code}, got {error.code}: {error.message}"
        return error
    raise AssertionError(f"expected error {code}, the node accepted the request")


# The checks, in the order they run.
async def check_chain(ctx: Context) -> None:
    assert await ctx.client.spec_version() == "0.10.2"
    block = await ctx.client.get_block_with_tx_hashes("latest")
    assert block.block_number == await ctx.client.get_block_number()


async def check_invoke_transfer(ctx: Context) -> None:
    recipient = secrets.randbits(200)
    before = await ctx.account.get_balance()
    receipt = await transfer(ctx.account, recipient, 1234)
    assert receipt.execution_status == TransactionExecutionStatus.SUCCEEDED
    assert receipt.actual_fee.amount > 0
    token = await Contract.from_address(FEE_TOKEN, provider=ctx.account)
    (balance,) = await token.functions["balance_of"].call(recipient)
    assert balance == 1234, balance
    after = await ctx.account.get_balance()
    assert after == before - 1234 - receipt.actual_fee.amount, (before, after)


async def check_declare(ctx: Context) -> None:
    sierra_path, casm_path = artifact_paths("sample")
    casm_hash = compute_casm_class_hash(create_casm_class(casm_path.read_text()))
    try:
        declared = await ctx.account.sign_declare_v3(
            sierra_path.read_text(), casm_hash, auto_estimate=True)
        result = await ctx.client.declare(declared)
        await ctx.client.wait_for_tx(result.transaction_hash)
        ctx.sample_class_hash = result.class_hash
    except ClientError as error:  # another run declared it already
        if error.code != CLASS_ALREADY_DECLARED and "already declared" not in error.message:
            raise
        ctx.sample_class_hash = builtin_class("sample").class_hash
    sierra = await ctx.client.get_class_by_hash(ctx.sample_class_hash)
    expected = [int(felt, 16) for felt in json.loads(sierra_path.read_text())["sierra_program"]]
    assert sierra.sierra_program == expected, "getClass returned another program"


async def check_deploy_and_call(ctx: Context) -> None:
    abi = json.loads(artifact_paths("sample")[0].read_text())["abi"]
    deployed = await Contract.deploy_contract_v3(
        account=ctx.account, class_hash=ctx.sample_class_hash, abi=abi, auto_estimate=True)
    await deployed.wait_for_acceptance()
    ctx.sample = await Contract.from_address(deployed.deployed_contract.address,
                                             provider=ctx.account)
    assert await ctx.client.get_class_hash_at(ctx.sample.address) == ctx.sample_class_hash
    invocation = await ctx.sample.functions["set"].invoke_v3(7, 42, auto_estimate=True)
    await invocation.wait_for_acceptance()
    assert await ctx.sample.functions["get"].call(7) == (42,)


async def check_multicall_events(ctx: Context) -> None:
    assert ctx.sample is not None
    increase = get_selector_from_name("increase")
    calls = [Call(to_addr=ctx.sample.address, selector=increase, calldata=[n]) for n in (1, 2, 3)]
    sent = await ctx.account.execute_v3(calls=calls, auto_estimate=True)
    receipt = await ctx.client.wait_for_tx(sent.transaction_hash)
    assert await ctx.sample.functions["counter"].call() == (6,)
    first = await ctx.client.get_events(address=ctx.sample.address, chunk_size=2,
                                        from_block_number=receipt.block_number,
                                        to_block_number=receipt.block_number)
    assert len(first.events) == 2 and first.continuation_token is not None
    rest = await ctx.client.get_events(address=ctx.sample.address, chunk_size=2,
                                       from_block_number=receipt.block_number,
                                       to_block_number=receipt.block_number,
                                       continuation_token=first.continuation_token)
    totals = [e.data[1] for e in first.events + rest.events]
    assert totals == [1, 3, 6], totals
    assert rest.continuation_token is None


async def check_revert(ctx: Context) -> None:
    assert ctx.sample is not None
    fail = Call(to_addr=ctx.sample.address, selector=get_selector_from_name("fail"),
                calldata=[int.from_bytes(b"boom", "big")])
    error = await expect_client_error(ctx.account.execute_v3(calls=[fail], auto_estimate=True),
                                      41)
    assert "boom" in error.message, error.message
    sent = await ctx.account.execute_v3(calls=[fail], resource_bounds=GENEROUS_BOUNDS)
    with contextlib.suppress(TransactionRevertedError):
        await ctx.client.wait_for_tx(sent.transaction_hash, check_interval=0.2)
    receipt = await ctx.client.get_transaction_receipt(sent.transaction_hash)
    assert receipt.execution_status == TransactionExecutionStatus.REVERTED
    assert "boom" in (receipt.revert_reason or ""), receipt.revert_reason
    assert receipt.actual_fee.amount > 0
    assert await ctx.sample.functions["counter"].call() == (6,), "revert kept a write"


async def check_bad_nonce(ctx: Context) -> None:
    nonce = await ctx.account.get_nonce()
    call = Call(to_addr=FEE_TOKEN, selector=TRANSFER, calldata=[1, 1, 0])
    for wrong in (nonce + 5, nonce - 1):
        if wrong < 0:
            continue
        tx = await ctx.account.sign_invoke_v3([call], nonce=wrong,
                                              resource_bounds=GENEROUS_BOUNDS)
        await expect_client_error(ctx.client.send_transaction(tx), 52)


async def check_bad_signature(ctx: Context) -> None:
    forger = Account(client=ctx.client, address=ctx.account.address,
                     key_pair=KeyPair.from_private_key(secrets.randbits(240) + 1),
                     chain=ctx.account._chain_id)
    call = Call(to_addr=FEE_TOKEN, selector=TRANSFER, calldata=[forger.address, 1, 0])
    tx = await forger.sign_invoke_v3([call], resource_bounds=GENEROUS_BOUNDS)
    await expect_client_error(ctx.client.send_transaction(tx), 55)


async def check_insufficient_balance(ctx: Context) -> None:
    balance = await ctx.account.get_balance()
    bounds = ResourceBoundsMapping(
        l1_gas=ResourceBounds(max_amount=0, max_price_per_unit=0),
        l1_data_gas=ResourceBounds(max_amount=0, max_price_per_unit=0),
        l2_gas=ResourceBounds(max_amount=2**63, max_price_per_unit=balance // 2**62 + 10**10))
    call = Call(to_addr=FEE_TOKEN, selector=TRANSFER, calldata=[1, 1, 0])
    tx = await ctx.account.sign_invoke_v3([call], resource_bounds=bounds)
    await expect_client_error(ctx.client.send_transaction(tx), 54)


async def check_simulate(ctx: Context) -> None:
    recipient = secrets.randbits(200)
    call = Call(to_addr=FEE_TOKEN, selector=TRANSFER, calldata=[recipient, 5, 0])
    tx = await ctx.account.sign_invoke_v3([call], resource_bounds=GENEROUS_BOUNDS)
    (simulated,) = await ctx.client.simulate_transactions([tx])
    inner = simulated.transaction_trace.execute_invocation.calls[0]
    assert inner.contract_address == FEE_TOKEN and inner.events, inner
    assert simulated.fee_estimation.overall_fee > 0
    token = await Contract.from_address(FEE_TOKEN, provider=ctx.account)
    assert await token.functions["balance_of"].call(recipient) == (0,), "simulation wrote state"
    overdraft = Call(to_addr=FEE_TOKEN, selector=TRANSFER, calldata=[recipient, 2**127, 0])
    tx = await ctx.account.sign_invoke_v3([overdraft], resource_bounds=GENEROUS_BOUNDS)
    (simulated,) = await ctx.client.simulate_transactions([tx], skip_validate=True)
    reason = simulated.transaction_trace.execute_invocation.revert_reason
    assert "insufficient balance" in reason, reason


async def check_deploy_account(ctx: Context) -> None:
    key_pair = KeyPair.from_private_key(secrets.randbits(240) + 1)
    class_hash = await ctx.client.get_class_hash_at(ctx.account.address)
    salt = secrets.randbits(128)
    address = compute_address(class_hash=class_hash, salt=salt,
                              constructor_calldata=[key_pair.public_key])
    await transfer(ctx.account, address, 10**18)
    sent = await Account.deploy_account_v3(
        address=address, class_hash=class_hash, salt=salt, key_pair=key_pair,
        client=ctx.client, constructor_calldata=[key_pair.public_key], auto_estimate=True)
    await sent.wait_for_acceptance()
    assert await ctx.client.get_class_hash_at(address) == class_hash
    assert await sent.account.get_nonce() == 1


CHECKS: list[Callable[[Context], Awaitable[None]]] = [
    check_chain, check_invoke_transfer, check_declare, check_deploy_and_call,
    check_multicall_events, check_revert, check_bad_nonce, check_bad_signature,
    check_insufficient_balance, check_simulate, check_deploy_account,
]


async def run_checks(url: str, address: int | None, private_key: int | None) -> int:
    """Run every check in order; return the number of failures."""
    if address is None or private_key is None:
        address, private_key = await predeployed_account(url)
    ctx = await make_context(url, address, private_key)
    failures = 0
    for check in CHECKS:
        started = time.monotonic()
        try:
            await check(ctx)
            status = "PASS"
        except Exception as exc:  # report and go on with the next check
            failures += 1
            status = f"FAIL {type(exc).__name__}: {exc}"
        print(f"{check.__name__:32} {time.monotonic() - started:6.1f}s {status}", flush=True)
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devnet.check", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="JSON-RPC URL, e.g. http://127.0.0.1:5050")
    parser.add_argument("--address", type=lambda v: int(v, 0), help="funded account address")
    parser.add_argument("--private-key", type=lambda v: int(v, 0), help="its private key")
    args = parser.parse_args(argv)
    return asyncio.run(run_checks(args.url, args.address, args.private_key))


if __name__ == "__main__":
    sys.exit(main())
