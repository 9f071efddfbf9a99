"""The devnet process driven by starknet-py (the same checks as `scripts/devnet-check`)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from starknet_py.hash.selector import get_selector_from_name
from starknet_py.net.client_models import Call

from devnet import check
from devnet.spawn import DevnetProcess


@pytest.fixture(scope="module")
def context(devnet: DevnetProcess) -> check.Context:
    account = devnet.info["accounts"][0]
    return asyncio.run(
        check.make_context(devnet.url, int(account["address"], 16), int(account["private_key"], 16))
    )


def test_start_up_summary_lists_funded_accounts(devnet: DevnetProcess) -> None:
    assert len(devnet.info["accounts"]) == 2
    assert devnet.info["fee_token"] == hex(check.FEE_TOKEN)
    assert devnet.info["chain_id"] == hex(int.from_bytes(b"SN_SEPOLIA", "big"))


@pytest.mark.parametrize("step", check.CHECKS, ids=lambda c: c.__name__)
def test_starknet_py(step: Any, context: check.Context) -> None:
    asyncio.run(step(context))


def test_stage_times_show_where_an_invoke_spent_its_time(
    devnet: DevnetProcess, context: check.Context
) -> None:
    rpc(devnet.url, call("devnet_stageTimes", []))  # start anew
    transfer = Call(to_addr=check.FEE_TOKEN, selector=check.TRANSFER, calldata=[7, 1, 0])

    async def invoke() -> None:
        sent = await context.account.execute_v3([transfer], resource_bounds=check.GENEROUS_BOUNDS)
        await context.client.wait_for_tx(sent.transaction_hash, check_interval=check.POLL_S)

    asyncio.run(invoke())
    times = rpc(devnet.url, call("devnet_stageTimes", []))[1]["result"]
    add = times["rpc starknet_addInvokeTransaction"]
    assert add["count"] == 1
    for stage in ("http read", "json decode", "json encode", "worker round trip",
                  "parse transaction", "transaction hash", "nonce and balance checks",
                  "__execute__", "fee", "state diff and commit",
                  "receipt and trace", "block mining"):
        assert times[stage]["count"] >= 1 and times[stage]["ms"] > 0, stage
    # `__validate__` ran here, or on the worker beside `__execute__` (then counted as such).
    speculations = {n: e["count"] for n, e in times.items() if n.startswith("speculation")}
    assert sum(speculations.values()) == 1, "the invoke's speculation is counted once"
    validated_here = times.get("__validate__", {"ms": 0.0})["ms"]
    if "speculation accepted" in speculations:
        assert times["__validate__ (worker)"]["ms"] > 0 and validated_here == 0
    else:
        assert validated_here > 0
    assert add["ms"] > validated_here + times["__execute__"]["ms"]
    rpc(devnet.url, call("starknet_nope", []))
    again = rpc(devnet.url, call("devnet_stageTimes", []))[1]["result"]
    assert "__validate__" not in again  # taken: counted anew
    assert again["rpc (unknown method)"]["count"] == 1


def rpc(url: str, body: bytes) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def call(method: str, params: Any) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()


ZERO_BOUND = {"max_amount": "0x0", "max_price_per_unit": "0x0"}
FUTURE_DECLARE = {
    "type": "DECLARE",
    "version": "0x3",
    "nonce": "0x0",
    "signature": [],
    "sender_address": "0x1",
    "resource_bounds": {"l1_gas": ZERO_BOUND, "l2_gas": ZERO_BOUND, "l1_data_gas": ZERO_BOUND},
    "compiled_class_hash": "0x1",
    "contract_class": {
        "abi": "[]",
        "contract_class_version": "0.9.0",
        "sierra_program": [],
        "entry_points_by_type": {},
    },
}

MALFORMED = [
    (b"{not json", -32700),
    (b"\xff\xfe\x00garbage", -32700),
    (b"[" * 200_000 + b"]" * 200_000, -32700),
    (b"[]", -32600),
    (b'"just a string"', -32600),
    (b'{"jsonrpc": "1.0", "id": 1, "method": "starknet_chainId"}', -32600),
    (call("starknet_noSuchMethod", []), -32601),
    (call("starknet_getNonce", ["latest"]), -32602),
    (call("starknet_getNonce", {"block_id": "latest", "contract_addr": "0x1"}), -32602),
    (call("starknet_getNonce", ["latest", "not-hex"]), -32602),
    (call("starknet_getNonce", ["latest", hex(2**252)]), -32602),
    (call("starknet_getNonce", ["yesterday", "0x1"]), -32602),
    (call("starknet_getNonce", [{"block_number": 10**6}, "0x1"]), 24),
    (call("starknet_getNonce", ["latest", "0x1234"]), 20),
    (call("starknet_getClass", ["latest", "0x1234"]), 28),
    (call("starknet_getTransactionReceipt", ["0x1234"]), 29),
    (call("starknet_addInvokeTransaction", [{"type": "INVOKE"}]), -32602),
    (call("starknet_addInvokeTransaction", [{"type": "INVOKE", "version": "0x1"}]), 61),
    (call("starknet_addDeclareTransaction", [FUTURE_DECLARE]), 62),
    (call("starknet_getEvents", [{"chunk_size": 5000}]), 31),
    (call("starknet_getEvents", [{"chunk_size": 5, "continuation_token": "x"}]), 33),
    (
        call(
            "starknet_call",
            [
                {
                    "contract_address": hex(check.FEE_TOKEN),
                    "entry_point_selector": "0x1",
                    "calldata": [],
                },
                "latest",
            ],
        ),
        40,
    ),
]


@pytest.mark.parametrize(("body", "code"), MALFORMED)
def test_malformed_request_gets_spec_error(devnet: DevnetProcess, body: bytes, code: int) -> None:
    _, reply = rpc(devnet.url, body)
    assert reply["error"]["code"] == code, reply
    assert rpc(devnet.url, call("starknet_chainId", []))[1]["result"] == devnet.info["chain_id"]


def test_huge_body_is_refused_and_server_keeps_serving(devnet: DevnetProcess) -> None:
    status, reply = rpc(devnet.url, b"[" + b"1," * (9 * 1024 * 1024) + b"1]")
    assert status == 413 and reply["error"]["code"] == -32600
    assert rpc(devnet.url, call("starknet_blockNumber", []))[1]["result"] >= 0


def test_garbage_connections_do_not_stop_the_server(devnet: DevnetProcess) -> None:
    host, port = devnet.url.removeprefix("http://").split(":")
    for garbage in (
        b"\x00\x01\x02 not http\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 99\r\n\r\n{",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    ):
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            connection.sendall(garbage)
            connection.shutdown(socket.SHUT_WR)
            connection.recv(4096)
    assert rpc(devnet.url, call("starknet_chainId", []))[1]["result"] == devnet.info["chain_id"]


def test_a_long_log_does_not_stall_the_devnet(devnet: DevnetProcess) -> None:
    # Each refused request logs a line with its method name: ~500 KiB of log, far more than a
    # pipe holds. A devnet whose log nobody reads would block here (the rpc timeout bounds it).
    method = "starknet_" + "x" * 5000
    batch = json.dumps([json.loads(call(method, [])) for _ in range(100)]).encode()
    _, replies = rpc(devnet.url, batch)
    assert [r["error"]["code"] for r in replies] == [-32601] * 100
    assert rpc(devnet.url, call("starknet_chainId", []))[1]["result"] == devnet.info["chain_id"]
    assert devnet.read_log().count("request refused") >= 100


def test_is_alive_answers_like_starknet_devnet(devnet: DevnetProcess) -> None:
    with urllib.request.urlopen(devnet.url + "/is_alive", timeout=10) as reply:
        assert reply.status == 200 and reply.read() == b"Alive!!!"


def test_concurrent_clients_all_get_answers(devnet: DevnetProcess) -> None:
    async def many() -> list[Any]:
        async with aiohttp.ClientSession() as session:

            async def one(i: int) -> Any:
                body = {
                    "jsonrpc": "2.0",
                    "id": i,
                    "method": "starknet_getBlockWithTxHashes",
                    "params": {"block_id": "latest"},
                }
                async with session.post(devnet.url, json=body) as reply:
                    return await reply.json()

            return await asyncio.gather(*(one(i) for i in range(40)))

    replies = asyncio.run(many())
    assert sorted(r["id"] for r in replies) == list(range(40))
    assert all("block_hash" in r["result"] for r in replies)


def test_batch_answers_each_request(devnet: DevnetProcess) -> None:
    body = json.dumps(
        [json.loads(call("starknet_chainId", [])), json.loads(call("starknet_nope", []))]
    ).encode()
    _, replies = rpc(devnet.url, body)
    assert replies[0]["result"] == devnet.info["chain_id"]
    assert replies[1]["error"]["code"] == -32601


def test_events_filtered_by_keys_and_blocks(devnet: DevnetProcess) -> None:
    transfer_key = hex(get_selector_from_name("Transfer"))
    latest = rpc(devnet.url, call("starknet_blockNumber", []))[1]["result"]
    everything = {"from_block": {"block_number": 0}, "to_block": "latest", "chunk_size": 1000}
    all_events = rpc(devnet.url, call("starknet_getEvents", [everything]))[1]["result"]["events"]
    by_key = {**everything, "keys": [[transfer_key]]}
    transfers = rpc(devnet.url, call("starknet_getEvents", [by_key]))[1]["result"]["events"]
    assert transfers and all(e["keys"][0] == transfer_key for e in transfers)
    assert len(transfers) == sum(e["keys"][0] == transfer_key for e in all_events)
    unknown = {**everything, "keys": [["0x1234"]]}
    assert rpc(devnet.url, call("starknet_getEvents", [unknown]))[1]["result"]["events"] == []
    last = {**everything, "from_block": {"block_number": latest}}
    tail = rpc(devnet.url, call("starknet_getEvents", [last]))[1]["result"]["events"]
    assert tail and all(e["block_number"] == latest for e in tail)


def test_create_block_mines_an_empty_block(devnet: DevnetProcess) -> None:
    before = rpc(devnet.url, call("starknet_blockNumber", []))[1]["result"]
    created = rpc(devnet.url, call("devnet_createBlock", []))[1]["result"]
    latest = rpc(devnet.url, call("starknet_getBlockWithTxHashes", ["latest"]))[1]["result"]
    assert latest["block_number"] == before + 1 and latest["block_hash"] == created["block_hash"]
    assert latest["transactions"] == [] and latest["parent_hash"] != "0x0"


def test_mint_credits_the_fee_token(devnet: DevnetProcess, context: check.Context) -> None:
    before = asyncio.run(context.account.get_balance())
    params = {"address": hex(context.account.address), "amount": 10**18}
    reply = rpc(devnet.url, call("devnet_mint", params))[1]["result"]
    assert int(reply["new_balance"]) == before + 10**18
    assert asyncio.run(context.account.get_balance()) == before + 10**18
    bad = rpc(devnet.url, call("devnet_mint", {"address": "0x1", "amount": -5}))[1]
    assert bad["error"]["code"] == -32602


def test_restart_from_dump_keeps_chain(
    devnet: DevnetProcess, dump_path: Path, context: check.Context
) -> None:
    block_number = rpc(devnet.url, call("starknet_blockNumber", []))[1]["result"]
    old_tx = rpc(devnet.url, call("starknet_getBlockWithTxHashes", [{"block_number": 1}]))[1]
    old_tx_hash = old_tx["result"]["transactions"][0]
    balance = asyncio.run(context.account.get_balance())
    devnet.stop()
    assert dump_path.is_file()
    restarted = DevnetProcess("--dump-path", str(dump_path))
    try:
        assert restarted.info["accounts"] == devnet.info["accounts"]
        assert rpc(restarted.url, call("starknet_blockNumber", []))[1]["result"] == block_number
        receipt = rpc(restarted.url, call("starknet_getTransactionReceipt", [old_tx_hash]))[1]
        assert receipt["result"]["block_number"] == 1
        no_trace = rpc(restarted.url, call("starknet_traceTransaction", [old_tx_hash]))[1]
        assert no_trace["error"]["code"] == 10, "traces are not part of the dump"
        ctx = asyncio.run(
            check.make_context(
                restarted.url, context.account.address, context.account.signer.private_key
            )
        )
        assert asyncio.run(ctx.account.get_balance()) == balance
        assert_transfer_validated_on_worker(restarted, ctx)
        reloaded = rpc(restarted.url, call("devnet_load", {"path": str(dump_path)}))[1]["result"]
        assert reloaded["block_number"] == block_number, "devnet_load restores the dumped chain"
        missing = rpc(restarted.url, call("devnet_load", {"path": str(dump_path) + ".absent"}))
        assert missing[1]["error"]["code"] == -32602
        assert_worker_ends_with_devnet(restarted)
    finally:
        restarted.stop()


def assert_transfer_validated_on_worker(devnet: DevnetProcess, ctx: check.Context) -> None:
    """Once the worker replicating the loaded state is up, a transfer is validated on it."""
    deadline = time.monotonic() + 120
    while "validate worker ready" not in devnet.read_log():
        assert time.monotonic() < deadline, "the validate worker did not start"
        time.sleep(0.1)
    rpc(devnet.url, call("devnet_stageTimes", []))
    asyncio.run(check.check_invoke_transfer(ctx))
    times = rpc(devnet.url, call("devnet_stageTimes", []))[1]["result"]
    assert times["speculation accepted"]["count"] == 1, times


def assert_worker_ends_with_devnet(devnet: DevnetProcess) -> None:
    """A devnet killed outright (no clean stop) leaves no validate worker behind."""
    workers = re.findall(r"validate worker started pid=(\d+)", devnet.read_log())
    assert workers, "the devnet started a validate worker"
    devnet.process.kill()
    devnet.process.wait(timeout=30)
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() for pid in workers):
        assert time.monotonic() < deadline, "the validate worker outlived the devnet"
        time.sleep(0.1)
