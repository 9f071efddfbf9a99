"""With --block-time, transactions wait in the pre-confirmed block until the interval mines it."""

from __future__ import annotations

import asyncio
import time

from starknet_py.net.client_models import Call, TransactionFinalityStatus

from devnet import check
from devnet.spawn import DevnetProcess

BLOCK_TIME_S = 3.0


async def transfer_then_mined(url: str, address: int, private_key: int) -> None:
    ctx = await check.make_context(url, address, private_key)
    first_block = await ctx.client.get_block_number()
    call = Call(to_addr=check.FEE_TOKEN, selector=check.TRANSFER, calldata=[0x777, 5, 0])
    result = await ctx.account.execute_v3(calls=[call], resource_bounds=check.GENEROUS_BOUNDS)
    receipt = await ctx.client.get_transaction_receipt(result.transaction_hash)
    pending = await ctx.client.get_block_with_tx_hashes("pre_confirmed")
    if receipt.finality_status == TransactionFinalityStatus.PRE_CONFIRMED:
        assert result.transaction_hash in pending.transactions
        chunk = await ctx.client.get_events(
            from_block_number="pre_confirmed", to_block_number="pre_confirmed", chunk_size=10
        )
        mine = [e for e in chunk.events if e.transaction_hash == result.transaction_hash]
        assert mine and mine[0].block_number is None, chunk.events
    deadline = time.monotonic() + 4 * BLOCK_TIME_S
    while receipt.finality_status != TransactionFinalityStatus.ACCEPTED_ON_L2:
        assert time.monotonic() < deadline, "the block interval did not mine the transaction"
        await asyncio.sleep(0.5)
        receipt = await ctx.client.get_transaction_receipt(result.transaction_hash)
    assert receipt.block_number is not None and receipt.block_number > first_block
    block = await ctx.client.get_block_with_tx_hashes(block_number=receipt.block_number)
    assert result.transaction_hash in block.transactions


def test_block_interval_mines_pending_transactions() -> None:
    with DevnetProcess("--accounts", "1", "--block-time", str(BLOCK_TIME_S)) as devnet:
        account = devnet.info["accounts"][0]
        asyncio.run(
            transfer_then_mined(
                devnet.url, int(account["address"], 16), int(account["private_key"], 16)
            )
        )
