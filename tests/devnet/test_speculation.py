"""`__validate__` on the worker process beside a speculative `__execute__`: every path gives what
the serial devnet gives.

Two chains from the same genesis take the same transactions: one speculates with a real worker
process, the other runs everything itself. Receipts, traces, errors and states must be equal,
and the speculation counters of `devnet_stageTimes` say which path each transaction took.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starkware.crypto.signature.signature import private_to_stark_key, sign
from starkware.starknet.public.abi import get_selector_from_name, get_storage_var_address

from devnet.chain import FEE_TOKEN_ADDRESS, UDC_ADDRESS, Chain, DevnetConfig
from devnet.classes import builtin_class
from devnet.errors import RpcError
from devnet.execution import MAX_CALL_GAS
from devnet.sequencer import L1
from devnet.speculation import ValidateWorker
from devnet.stages import TIMES
from devnet.transactions import Transaction, parse_transaction

START_TIMEOUT_S = 120
CONFIG = DevnetConfig(seed=5, accounts=3)
ABOVE_CAP = MAX_CALL_GAS + 10**7


def bounds(l2_amount: int = 10**8) -> dict[str, dict[str, str]]:
    return {"l1_gas": {"max_amount": "0x0", "max_price_per_unit": "0x0"},
            "l2_gas": {"max_amount": hex(l2_amount), "max_price_per_unit": hex(10**9)},
            "l1_data_gas": {"max_amount": hex(10**4), "max_price_per_unit": hex(10**9)}}


def signed(chain: Chain, index: int, nonce: int, *, calldata: list[int] | None = None,
           l2_amount: int = 10**8, key: int | None = None, declare: str | None = None,
           forged: bool = False, sender: int | None = None) -> Transaction:
    """An invoke (a fee-token transfer unless `calldata`), or the declare of class `declare`,
    from predeployed account `index` (or `sender`), signed with its key (or `key`)."""
    account = chain.accounts[index]
    body: dict[str, Any] = {"type": "INVOKE", "version": "0x3",
                            "sender_address": hex(sender or account.address), "nonce": hex(nonce),
                            "signature": [], "resource_bounds": bounds(l2_amount)}
    if declare is not None:
        declared = builtin_class(declare)
        body.update(type="DECLARE", contract_class=declared.sierra,
                    compiled_class_hash=hex(declared.compiled_class_hash))
    else:
        body["calldata"] = [hex(f) for f in calldata or multicall(
            FEE_TOKEN_ADDRESS, "transfer", [0x1234, 1, 0])]
    r, s = sign(parse_transaction(body, chain.chain_id).hash, key or account.private_key)
    return parse_transaction({**body, "signature": [hex(r), hex(s + forged)]}, chain.chain_id)


def multicall(to: int, entry_point: str, calldata: list[int]) -> list[int]:
    return [1, to, get_selector_from_name(entry_point), len(calldata), *calldata]


def wait_until(condition: Callable[[], bool], timeout: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the validate worker did not start in time"
        time.sleep(0.05)


def result(chain: Chain, tx: Transaction) -> dict[str, Any]:
    """What adding `tx` to `chain` answers and leaves behind (block times apart)."""
    try:
        chain.add(tx)
    except RpcError as error:
        return {"error": error.to_json()}
    receipt = chain.receipts[tx.hash]
    return {"fee": receipt.fee, "gas": receipt.gas, "events": receipt.events,
            "revert_reason": receipt.revert_reason, "state_diff": receipt.state_diff,
            "previous_values": receipt.previous_values, "trace": chain.traces[tx.hash]}


def state_of(chain: Chain) -> tuple[Any, ...]:
    s = chain.state
    return s.storage, s.nonces, s.class_hash_at, s.compiled_class_hashes


def both(speculating: Chain, serial: Chain, tx: Transaction) -> tuple[dict[str, Any],
                                                                       dict[str, int]]:
    """Add `tx` to both chains; assert equal results and states; return the result and the
    speculation counters of the speculating chain's run."""
    TIMES.take()
    got = result(speculating, tx)
    counters = {name: entry["count"] for name, entry in TIMES.take().items()
                if name.startswith("speculation")}
    assert got == result(serial, tx)
    assert state_of(speculating) == state_of(serial)
    return got, counters


class Pair:
    def __init__(self) -> None:
        self.speculating = Chain(CONFIG)
        self.speculating.create_genesis()
        self.serial = Chain(CONFIG)
        self.serial.create_genesis()
        self.worker = ValidateWorker(self.speculating.state, CONFIG.chain_id, FEE_TOKEN_ADDRESS)
        self.speculating.speculate_with(self.worker)

    def tx(self, index: int, **options: Any) -> Transaction:
        """A transaction of account `index` with its next nonce."""
        nonce = self.serial.state.get_nonce_at(L1, self.serial.accounts[index].address)
        return signed(self.serial, index, nonce, **options)

    def add(self, tx: Transaction) -> tuple[dict[str, Any], dict[str, int]]:
        return both(self.speculating, self.serial, tx)


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    chains = Pair()
    wait_until(chains.worker.ready)
    yield chains
    chains.worker.stop()


ACCEPTED = {"speculation accepted": 1}


def test_transfers_back_to_back_are_taken_from_the_worker(pair: Pair) -> None:
    _, counters = pair.add(pair.tx(0))
    assert counters == {"speculation re-run: execute gas differs": 1}, "no guess of its gas yet"
    for _ in range(2):
        got, counters = pair.add(pair.tx(0))
        assert counters == ACCEPTED
        assert got["revert_reason"] is None


def test_tight_l2_bound_takes_the_exact_gas_or_runs_again(pair: Pair) -> None:
    last = pair.serial.traces[pair.serial.latest.tx_hashes[-1]]  # a transfer
    validate_gas = last["validate_invocation"]["execution_resources"]["l2_gas"]
    tight = pair.tx(0, l2_amount=validate_gas + 1000)
    got, counters = pair.add(tight)
    assert counters == ACCEPTED, "the guess of validate's gas was exact"
    assert got["revert_reason"] is not None, "1000 gas does not pay for a transfer"
    pair.speculating.sequencer.validate_gas.clear()  # as on a fresh devnet
    got, counters = pair.add(pair.tx(0, l2_amount=validate_gas + 10**6))
    assert counters == {"speculation re-run: execute gas differs": 1}
    assert got["revert_reason"] is None


def test_bad_signature_is_refused_as_without_the_worker(pair: Pair) -> None:
    got, counters = pair.add(pair.tx(0, forged=True))
    assert got["error"]["code"] == 55
    assert counters == {"speculation re-run: validate refused": 1}


def test_declare_then_deploy_and_call(pair: Pair) -> None:
    sample = builtin_class("sample").class_hash
    got, counters = pair.add(pair.tx(1, declare="sample"))
    assert counters == {} and "error" not in got, "declares are not speculated"
    # A bound above the call gas cap: `__execute__` gets the cap whatever validate spends.
    got, counters = pair.add(pair.tx(1, l2_amount=ABOVE_CAP, calldata=multicall(
        UDC_ADDRESS, "deployContract", [sample, 1, 0, 0])))
    assert counters == ACCEPTED, "the worker got the declared class"
    deployed = got["state_diff"].deployed
    assert list(deployed.values()) == [sample]
    _, counters = pair.add(pair.tx(1, l2_amount=ABOVE_CAP, calldata=multicall(
        next(iter(deployed)), "set", [3, 4])))
    assert counters == ACCEPTED


def test_validate_that_writes_state_runs_execute_again(pair: Pair) -> None:
    counting = builtin_class("counting_account").class_hash
    got, _ = pair.add(pair.tx(0, declare="counting_account"))
    assert "error" not in got
    public_key = pair.serial.accounts[0].public_key
    got, _ = pair.add(pair.tx(0, l2_amount=ABOVE_CAP, calldata=multicall(
        UDC_ADDRESS, "deployContract", [counting, 2, 0, 1, public_key])))
    address = next(iter(got["state_diff"].deployed))
    for chain in (pair.speculating, pair.serial):
        chain.mint(address, 10**20)
    got, counters = pair.add(signed(pair.serial, 0, 0, sender=address, l2_amount=ABOVE_CAP))
    assert counters == {"speculation re-run: validate wrote state": 1}
    validations = (address, get_storage_var_address("validations"))
    assert got["state_diff"].storage[validations] == 1
    assert got["revert_reason"] is None


def test_a_change_the_worker_missed_is_caught_by_its_reads(pair: Pair) -> None:
    """A key rotation written straight into both states, past the worker's feed (a fault the
    devnet does not make): the worker validates with the old key, the devnet sees it read a
    value that is not the devnet's, and validates itself."""
    old_key = pair.serial.accounts[2].private_key
    new_key = old_key + 1
    slot = (pair.serial.accounts[2].address, get_storage_var_address("public_key"))
    for chain in (pair.speculating, pair.serial):
        chain.state.storage[slot] = private_to_stark_key(new_key)
    got, counters = pair.add(pair.tx(2, key=old_key))
    assert counters == {"speculation re-run: validate reads differ": 1}
    assert got["error"]["code"] == 55, "the old key no longer signs"
    got, counters = pair.add(pair.tx(2, key=new_key))
    assert counters == {"speculation re-run: validate refused": 1}, "the replica has the old key"
    assert "error" not in got


def test_replica_of_another_version_is_not_used(pair: Pair) -> None:
    pair.speculating.state.version += 1  # as if a change had not reached the worker
    _, counters = pair.add(pair.tx(0))
    assert counters == {"speculation re-run: replica version": 1}
    wait_until(pair.worker.ready)  # restarted on a snapshot of the devnet's state
    _, counters = pair.add(pair.tx(0))
    assert counters == ACCEPTED


def test_worker_killed_mid_request(pair: Pair) -> None:
    pid = pair.worker.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # holds the request until the kill
    killer = threading.Timer(0.5, os.kill, (pid, signal.SIGKILL))
    killer.start()
    _, counters = pair.add(pair.tx(0))
    killer.join()
    assert counters == {"speculation re-run: worker crashed": 1}
    wait_until(pair.worker.ready)
    assert pair.worker.pid != pid
    _, counters = pair.add(pair.tx(0))
    assert counters == ACCEPTED


def test_worker_that_stops_answering_times_out(pair: Pair) -> None:
    pid = pair.worker.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    _, counters = pair.add(pair.tx(0))
    assert counters == {"speculation re-run: worker timeout": 1}
    wait_until(pair.worker.ready)
    _, counters = pair.add(pair.tx(0))
    assert counters == ACCEPTED


def test_loaded_dump_is_replicated(pair: Pair, tmp_path: Path) -> None:
    """Last: the worker moves to the loaded chain, as `devnet_load` does."""
    pair.serial.dump(tmp_path / "dump.json")
    loaded = Chain.load(tmp_path / "dump.json", CONFIG)
    loaded.speculate_with(pair.worker)
    wait_until(pair.worker.ready)
    pair.speculating = loaded
    _, counters = pair.add(pair.tx(0, l2_amount=ABOVE_CAP))
    assert counters == ACCEPTED
