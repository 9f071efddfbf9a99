"""Starknet JSON-RPC methods (spec 0.10.2) over a `Chain`, plus devnet extras.

Every method takes its parameters by name or by position, as the specification allows. State
queries answer for the block they name; estimates and simulations run on the newest state.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starkware.starknet.business_logic.state.state import CachedSyncState
from starkware.starknet.business_logic.state.state_api import SyncStateReader

from devnet import events, fees
from devnet.chain import (
    SEQUENCER_ADDRESS,
    STARKNET_VERSION,
    Block,
    Chain,
    Receipt,
    SimulationRejected,
)
from devnet.errors import (
    BlockNotFound,
    ClassHashNotFound,
    ContractError,
    ContractNotFound,
    InvalidParams,
    InvalidTxnIndex,
    MethodNotFound,
    NoTraceAvailable,
    TransactionExecutionError,
    TxnHashNotFound,
)
from devnet.execution import ExecutionFailed, run_entry_point
from devnet.sequencer import L1, Outcome
from devnet.stages import TIMES, stage
from devnet.traces import transaction_trace
from devnet.transactions import felt, felts, hexes, parse_transaction

SPEC_VERSION = "0.10.2"
BLOCK_TAGS = ("latest", "pre_confirmed", "l1_accepted")


class RpcApi:
    """Resolves a JSON-RPC method name and parameters to a result, or raises RpcError."""

    def __init__(self, chain: Chain, dump_path: Path | None = None) -> None:
        self.chain = chain
        self.dump_path = dump_path
        self.methods: dict[str, Callable[..., Any]] = {
            name.replace("_rpc_", "starknet_", 1) if name.startswith("_rpc_")
            else name.replace("_dev_", "devnet_", 1): getattr(self, name)
            for name in dir(self) if name.startswith(("_rpc_", "_dev_"))
        }

    def call(self, method: Any, params: Any) -> Any:
        """Run `method` with `params` (list, object or absent)."""
        if not isinstance(method, str) or method not in self.methods:
            raise MethodNotFound(f"{method!r:.100}")
        handler = self.methods[method]
        if params is None:
            params = []
        try:
            bound = (inspect.signature(handler).bind(*params) if isinstance(params, list)
                     else inspect.signature(handler).bind(**params) if isinstance(params, dict)
                     else None)
        except TypeError as exc:
            raise InvalidParams(str(exc)) from None
        if bound is None:
            raise InvalidParams("params must be an array or an object")
        return handler(*bound.args, **bound.kwargs)

    # Block ids.
    def _block(self, block_id: Any) -> Block | None:
        """The mined block `block_id` names, or None for the pre-confirmed block."""
        chain = self.chain
        if block_id in ("latest", "l1_accepted"):
            return chain.latest
        if block_id == "pre_confirmed":
            return None
        if isinstance(block_id, dict) and len(block_id) == 1:
            if "block_number" in block_id:
                number = block_id["block_number"]
                if not isinstance(number, int) or isinstance(number, bool) or number < 0:
                    raise InvalidParams("block_number: expected a non-negative integer")
                if number >= len(chain.blocks):
                    raise BlockNotFound()
                return chain.blocks[number]
            if "block_hash" in block_id:
                block_hash = felt(block_id["block_hash"], "block_hash")
                for block in chain.blocks:
                    if block.hash == block_hash:
                        return block
                raise BlockNotFound()
        raise InvalidParams(f"block_id: expected one of {BLOCK_TAGS}, block_number or block_hash")

    def _header(self, block: Block | None) -> dict[str, Any]:
        chain = self.chain
        header: dict[str, Any] = {
            "block_number": len(chain.blocks) if block is None else block.number,
            "timestamp": chain.pending_timestamp if block is None else block.timestamp,
            "sequencer_address": hex(SEQUENCER_ADDRESS),
            **fees.resource_prices(), "l1_da_mode": "BLOB", "starknet_version": STARKNET_VERSION,
        }
        if block is None:
            return header
        receipts = [chain.receipts[t] for t in block.tx_hashes]
        return {
            **header, "block_hash": hex(block.hash), "parent_hash": hex(block.parent_hash),
            "new_root": "0x0", "event_commitment": "0x0", "transaction_commitment": "0x0",
            "receipt_commitment": "0x0", "state_diff_commitment": "0x0",
            "event_count": sum(len(r.events) for r in receipts),
            "transaction_count": len(block.tx_hashes),
            "state_diff_length": len(chain.state_diff(block.tx_hashes)),
            "status": "ACCEPTED_ON_L2",
        }

    def _block_txs(self, block_id: Any) -> tuple[Block | None, list[int]]:
        block = self._block(block_id)
        return block, (self.chain.pending if block is None else block.tx_hashes)

    def _receipt(self, receipt: Receipt, with_block: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": receipt.tx_type, "transaction_hash": hex(receipt.tx_hash),
            "actual_fee": {"amount": hex(receipt.fee), "unit": "FRI"},
            "execution_status": "REVERTED" if receipt.revert_reason else "SUCCEEDED",
            "finality_status": ("PRE_CONFIRMED" if receipt.block_number is None
                                else "ACCEPTED_ON_L2"),
            "messages_sent": [], "events": receipt.events,
            "execution_resources": receipt.gas.to_resources(),
        }
        if receipt.revert_reason:
            out["revert_reason"] = receipt.revert_reason
        if receipt.contract_address is not None:
            out["contract_address"] = hex(receipt.contract_address)
        if with_block:
            if receipt.block_number is None:
                out["block_number"] = len(self.chain.blocks)
            else:
                out["block_number"] = receipt.block_number
                out["block_hash"] = hex(self.chain.blocks[receipt.block_number].hash)
        return out

    # Chain and blocks.
    def _rpc_specVersion(self) -> str:
        return SPEC_VERSION

    def _rpc_chainId(self) -> str:
        return hex(self.chain.chain_id)

    def _rpc_syncing(self) -> bool:
        return False

    def _rpc_blockNumber(self) -> int:
        return self.chain.latest.number

    def _rpc_blockHashAndNumber(self) -> dict[str, Any]:
        latest = self.chain.latest
        return {"block_hash": hex(latest.hash), "block_number": latest.number}

    def _rpc_getBlockWithTxHashes(self, block_id: Any) -> dict[str, Any]:
        block, tx_hashes = self._block_txs(block_id)
        return {**self._header(block), "transactions": hexes(tx_hashes)}

    def _rpc_getBlockWithTxs(self, block_id: Any) -> dict[str, Any]:
        block, tx_hashes = self._block_txs(block_id)
        return {**self._header(block),
                "transactions": [self.chain.transactions[t] for t in tx_hashes]}

    def _rpc_getBlockWithReceipts(self, block_id: Any) -> dict[str, Any]:
        block, tx_hashes = self._block_txs(block_id)
        return {**self._header(block), "transactions": [
            {"transaction": self.chain.transactions[t],
             "receipt": self._receipt(self.chain.receipts[t], with_block=False)}
            for t in tx_hashes]}

    def _rpc_getStateUpdate(self, block_id: Any) -> dict[str, Any]:
        block, tx_hashes = self._block_txs(block_id)
        update: dict[str, Any] = {"old_root": "0x0",
                                  "state_diff": self.chain.state_diff(tx_hashes).to_rpc()}
        if block is not None:
            update.update(block_hash=hex(block.hash), new_root="0x0")
        return update

    def _rpc_getBlockTransactionCount(self, block_id: Any) -> int:
        return len(self._block_txs(block_id)[1])

    # Transactions.
    def _tx_hash(self, transaction_hash: Any) -> int:
        tx_hash = felt(transaction_hash, "transaction_hash")
        if tx_hash not in self.chain.transactions:
            raise TxnHashNotFound()
        return tx_hash

    def _rpc_getTransactionByHash(self, transaction_hash: Any) -> dict[str, Any]:
        return self.chain.transactions[self._tx_hash(transaction_hash)]

    def _rpc_getTransactionByBlockIdAndIndex(self, block_id: Any, index: Any) -> dict[str, Any]:
        tx_hashes = self._block_txs(block_id)[1]
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(tx_hashes):
            raise InvalidTxnIndex()
        return self.chain.transactions[tx_hashes[index]]

    def _rpc_traceTransaction(self, transaction_hash: Any) -> dict[str, Any]:
        trace = self.chain.traces.get(self._tx_hash(transaction_hash))
        if trace is None:
            raise NoTraceAvailable("traces are kept in memory; this transaction predates a load")
        return trace

    def _rpc_traceBlockTransactions(self, block_id: Any) -> list[dict[str, Any]]:
        return [{"transaction_hash": hex(t), "trace_root": self._rpc_traceTransaction(hex(t))}
                for t in self._block_txs(block_id)[1]]

    def _rpc_getTransactionReceipt(self, transaction_hash: Any) -> dict[str, Any]:
        return self._receipt(self.chain.receipts[self._tx_hash(transaction_hash)])

    def _rpc_getTransactionStatus(self, transaction_hash: Any) -> dict[str, Any]:
        receipt = self._receipt(self.chain.receipts[self._tx_hash(transaction_hash)])
        status = {"finality_status": receipt["finality_status"],
                  "execution_status": receipt["execution_status"]}
        if "revert_reason" in receipt:
            status["failure_reason"] = receipt["revert_reason"]
        return status

    def _rpc_addInvokeTransaction(self, invoke_transaction: Any) -> dict[str, Any]:
        tx = self._broadcasted(invoke_transaction, "INVOKE")
        return {"transaction_hash": hex(self.chain.add(tx))}

    def _rpc_addDeclareTransaction(self, declare_transaction: Any) -> dict[str, Any]:
        tx = self._broadcasted(declare_transaction, "DECLARE")
        return {"transaction_hash": hex(self.chain.add(tx)), "class_hash": hex(tx.class_hash)}

    def _rpc_addDeployAccountTransaction(self, deploy_account_transaction: Any) -> dict[str, Any]:
        tx = self._broadcasted(deploy_account_transaction, "DEPLOY_ACCOUNT")
        return {"transaction_hash": hex(self.chain.add(tx)), "contract_address": hex(tx.sender)}

    def _broadcasted(self, data: Any, tx_type: str) -> Any:
        if isinstance(data, dict) and data.get("type") != tx_type:
            raise InvalidParams(f"type: expected {tx_type}")
        with stage("parse transaction"):
            tx = parse_transaction(data, self.chain.chain_id)
        if tx.is_query:
            raise InvalidParams("query versions cannot be broadcast")
        return tx

    # State.
    def _reader(self, block_id: Any) -> SyncStateReader:
        return self.chain.state_after(self._block(block_id))

    def _contract(self, state: SyncStateReader, contract_address: Any) -> int:
        address = felt(contract_address, "contract_address")
        if state.get_class_hash_at(address) == 0:
            raise ContractNotFound()
        return address

    def _rpc_getNonce(self, block_id: Any, contract_address: Any) -> str:
        state = self._reader(block_id)
        return hex(state.get_nonce_at(L1, self._contract(state, contract_address)))

    def _rpc_getClassHashAt(self, block_id: Any, contract_address: Any) -> str:
        state = self._reader(block_id)
        return hex(state.get_class_hash_at(self._contract(state, contract_address)))

    def _rpc_getClassAt(self, block_id: Any, contract_address: Any) -> dict[str, Any]:
        state = self._reader(block_id)
        class_hash = state.get_class_hash_at(self._contract(state, contract_address))
        return self.chain.state.sierra_classes[class_hash]

    def _rpc_getClass(self, block_id: Any, class_hash: Any) -> dict[str, Any]:
        state = self._reader(block_id)
        wanted = felt(class_hash, "class_hash")
        if state.get_compiled_class_hash(wanted) == 0:
            raise ClassHashNotFound()
        return self.chain.state.sierra_classes[wanted]

    def _rpc_getCompiledCasm(self, class_hash: Any) -> dict[str, Any]:
        casm = self.chain.state.casm_classes.get(felt(class_hash, "class_hash"))
        if casm is None:
            raise ClassHashNotFound()
        return {key: value for key, value in casm.items() if key != "pythonic_hints"}

    def _rpc_getStorageAt(self, contract_address: Any, key: Any, block_id: Any) -> str:
        state = self._reader(block_id)
        address = self._contract(state, contract_address)
        return hex(state.get_storage_at(L1, address, felt(key, "key")))

    def _rpc_call(self, request: Any, block_id: Any) -> list[str]:
        if not isinstance(request, dict):
            raise InvalidParams("request: expected an object")
        state = self._reader(block_id)
        address = self._contract(state, request.get("contract_address"))
        selector = felt(request.get("entry_point_selector"), "entry_point_selector")
        calldata = felts(request.get("calldata", []), "calldata")
        view = CachedSyncState(self.chain.block_info(), state,
                               compiled_class_cache=self.chain.state.compiled_classes)
        try:
            call_info = run_entry_point(view, self.chain.general_config, contract=address,
                                        selector=selector, calldata=calldata)
        except ExecutionFailed as exc:
            raise ContractError({"revert_error": exc.reason}) from exc
        return hexes(call_info.retdata)

    # Estimates and simulations.
    def _flags(self, flags: Any, allowed: tuple[str, ...]) -> set[str]:
        if not isinstance(flags, list) or any(f not in allowed for f in flags):
            raise InvalidParams(f"simulation_flags: expected a list of {allowed}")
        return set(flags)

    def _simulate_all(self, transactions: Any, flags: set[str]) -> list[Outcome]:
        if not isinstance(transactions, list) or not transactions:
            raise InvalidParams("expected a non-empty list of transactions")
        txs = [parse_transaction(t, self.chain.chain_id) for t in transactions]
        try:
            return self.chain.simulate(txs, validate="SKIP_VALIDATE" not in flags,
                                       charge_fee="SKIP_FEE_CHARGE" not in flags)
        except SimulationRejected as exc:
            raise TransactionExecutionError(
                {"transaction_index": exc.index,
                 "execution_error": exc.error.data or exc.error.message}) from exc

    def _rpc_estimateFee(self, request: Any, simulation_flags: Any, block_id: Any) -> list[Any]:
        self._block(block_id)
        flags = self._flags(simulation_flags, ("SKIP_VALIDATE",))
        estimates = []
        for index, outcome in enumerate(self._simulate_all(request, flags | {"SKIP_FEE_CHARGE"})):
            if outcome.revert_reason is not None:
                raise TransactionExecutionError(
                    {"transaction_index": index, "execution_error": outcome.revert_reason})
            estimates.append(outcome.gas.to_estimate())
        return estimates

    def _rpc_simulateTransactions(self, block_id: Any, transactions: Any,
                                  simulation_flags: Any) -> list[Any]:
        self._block(block_id)
        flags = self._flags(simulation_flags, ("SKIP_VALIDATE", "SKIP_FEE_CHARGE"))
        return [{"transaction_trace": transaction_trace(outcome),
                 "fee_estimation": outcome.gas.to_estimate()}
                for outcome in self._simulate_all(transactions, flags)]

    # Events.
    def _rpc_getEvents(self, filter: Any) -> dict[str, Any]:
        if not isinstance(filter, dict):
            raise InvalidParams("filter: expected an object")
        chunk_size, start = events.parse_chunking(filter.get("chunk_size"),
                                                  filter.get("continuation_token"))
        from_block = self._block(filter.get("from_block", {"block_number": 0}))
        to_block = self._block(filter.get("to_block", "latest"))
        keys = filter.get("keys", [])
        if not isinstance(keys, list):
            raise InvalidParams("keys: expected a list of lists")
        parsed_keys = [felts(k, f"keys[{i}]") for i, k in enumerate(keys)]
        events.check_keys(parsed_keys)
        address = filter.get("address")
        pending = len(self.chain.blocks)  # the pre-confirmed block's position
        query = events.EventFilter(
            from_block=pending if from_block is None else from_block.number,
            to_block=pending if to_block is None else to_block.number,
            address=None if address is None else felt(address, "address"),
            keys=parsed_keys)
        return events.page(self._matching_events(query), chunk_size, start)

    def _matching_events(self, query: events.EventFilter) -> list[dict[str, Any]]:
        matching = []
        blocks: list[Block | None] = [*self.chain.blocks, None]
        for block in blocks[query.from_block:query.to_block + 1]:
            tx_hashes = self.chain.pending if block is None else block.tx_hashes
            where = {} if block is None else {"block_hash": hex(block.hash),
                                              "block_number": block.number}
            for index, tx_hash in enumerate(tx_hashes):
                for event_index, event in enumerate(self.chain.receipts[tx_hash].events):
                    if query.matches(event):
                        matching.append({**event, **where, "transaction_hash": hex(tx_hash),
                                         "transaction_index": index, "event_index": event_index})
        return matching

    # Devnet extras (named as starknet-devnet names them).
    def _dev_mint(self, address: Any, amount: Any, unit: str = "FRI") -> dict[str, Any]:
        if unit != "FRI":
            raise InvalidParams("unit: only FRI is supported")
        if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount < 2**256:
            raise InvalidParams("amount: expected a positive integer below 2**256")
        balance = self.chain.mint(felt(address, "address"), amount)
        return {"new_balance": str(balance), "unit": "FRI"}

    def _dev_createBlock(self) -> dict[str, Any]:
        return {"block_hash": hex(self.chain.mine().hash)}

    def _dev_getPredeployedAccounts(self) -> list[dict[str, Any]]:
        return [{"address": hex(a.address), "private_key": hex(a.private_key),
                 "public_key": hex(a.public_key),
                 "initial_balance": str(self.chain.config.initial_balance)}
                for a in self.chain.accounts]

    def _dev_stageTimes(self) -> dict[str, dict[str, float]]:
        """Wall time per stage of request handling since the last call (`devnet.stages`)."""
        return TIMES.take()

    def _dev_dump(self, path: Any = None) -> dict[str, Any]:
        target = Path(path) if isinstance(path, str) and path else self.dump_path
        if target is None:
            raise InvalidParams("path: no path given and the devnet has no --dump-path")
        self.chain.dump(target)
        return {"path": str(target)}

    def _dev_load(self, path: Any) -> dict[str, Any]:
        if not isinstance(path, str) or not path:
            raise InvalidParams("path: expected a file path")
        try:
            loaded = Chain.load(Path(path), self.chain.config)
        except (OSError, ValueError) as exc:
            raise InvalidParams(f"path: {exc}") from None
        if self.chain.sequencer.worker is not None:
            loaded.speculate_with(self.chain.sequencer.worker)
        self.chain = loaded
        return {"block_number": self.chain.latest.number}


