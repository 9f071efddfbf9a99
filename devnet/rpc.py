"""Starknet JSON-RPC methods (spec 0.10.2) over a `Chain`, plus devnet extras.

Every method takes its parameters by name or by position, as the specification allows. State
queries accept any existing block id and answer from the newest state (the devnet keeps no
history of states).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starkware.starknet.business_logic.execution.objects import CallInfo

from devnet import events, fees
from devnet.chain import SEQUENCER_ADDRESS, STARKNET_VERSION, Block, Chain, Receipt
from devnet.errors import (
    BlockNotFound,
    ClassHashNotFound,
    ContractError,
    ContractNotFound,
    InvalidParams,
    InvalidTxnIndex,
    MethodNotFound,
    RpcError,
    TransactionExecutionError,
    TxnHashNotFound,
)
from devnet.execution import ExecutionFailed, run_entry_point
from devnet.transactions import felt, felts, parse_transaction

SPEC_VERSION = "0.10.2"
BLOCK_TAGS = ("latest", "pre_confirmed", "l1_accepted")


def _hexes(values: list[int]) -> list[str]:
    return [hex(v) for v in values]


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
            "transaction_count": len(block.tx_hashes), "state_diff_length": 0,
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
        return {**self._header(block), "transactions": _hexes(tx_hashes)}

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
        tx = parse_transaction(data, self.chain.chain_id)
        if tx.is_query:
            raise InvalidParams("query versions cannot be broadcast")
        return tx

    # State.
    def _contract(self, block_id: Any, contract_address: Any) -> int:
        self._block(block_id)
        address = felt(contract_address, "contract_address")
        if self.chain.state.get_class_hash_at(address) == 0:
            raise ContractNotFound()
        return address

    def _rpc_getNonce(self, block_id: Any, contract_address: Any) -> str:
        address = self._contract(block_id, contract_address)
        return hex(self.chain.state.nonces.get(address, 0))

    def _rpc_getClassHashAt(self, block_id: Any, contract_address: Any) -> str:
        return hex(self.chain.state.get_class_hash_at(self._contract(block_id, contract_address)))

    def _rpc_getClassAt(self, block_id: Any, contract_address: Any) -> dict[str, Any]:
        class_hash = self.chain.state.get_class_hash_at(self._contract(block_id, contract_address))
        return self.chain.state.sierra_classes[class_hash]

    def _rpc_getClass(self, block_id: Any, class_hash: Any) -> dict[str, Any]:
        self._block(block_id)
        sierra = self.chain.state.sierra_classes.get(felt(class_hash, "class_hash"))
        if sierra is None:
            raise ClassHashNotFound()
        return sierra

    def _rpc_getStorageAt(self, contract_address: Any, key: Any, block_id: Any) -> str:
        address = self._contract(block_id, contract_address)
        return hex(self.chain.state.storage.get((address, felt(key, "key")), 0))

    def _rpc_call(self, request: Any, block_id: Any) -> list[str]:
        if not isinstance(request, dict):
            raise InvalidParams("request: expected an object")
        address = self._contract(block_id, request.get("contract_address"))
        selector = felt(request.get("entry_point_selector"), "entry_point_selector")
        calldata = felts(request.get("calldata", []), "calldata")
        view = self.chain.state.begin(self.chain.block_info())
        try:
            call_info = run_entry_point(view, self.chain.general_config, contract=address,
                                        selector=selector, calldata=calldata)
        except ExecutionFailed as exc:
            raise ContractError({"revert_error": exc.reason}) from exc
        return _hexes(call_info.retdata)

    # Estimates and simulations.
    def _flags(self, flags: Any, allowed: tuple[str, ...]) -> set[str]:
        if not isinstance(flags, list) or any(f not in allowed for f in flags):
            raise InvalidParams(f"simulation_flags: expected a list of {allowed}")
        return set(flags)

    def _simulate_all(self, transactions: Any, flags: set[str]) -> list[Any]:
        if not isinstance(transactions, list) or not transactions:
            raise InvalidParams("expected a non-empty list of transactions")
        if len(transactions) > 1:
            raise InvalidParams("this devnet estimates one transaction per request")
        tx = parse_transaction(transactions[0], self.chain.chain_id)
        try:
            outcome = self.chain.simulate(tx, validate="SKIP_VALIDATE" not in flags,
                                          charge_fee="SKIP_FEE_CHARGE" not in flags
                                          and not tx.is_query)
        except RpcError as exc:
            raise TransactionExecutionError(
                {"transaction_index": 0, "execution_error": exc.data or exc.message}) from exc
        return [(tx, outcome)]

    def _rpc_estimateFee(self, request: Any, simulation_flags: Any, block_id: Any) -> list[Any]:
        self._block(block_id)
        flags = self._flags(simulation_flags, ("SKIP_VALIDATE",))
        estimates = []
        for _, outcome in self._simulate_all(request, flags | {"SKIP_FEE_CHARGE"}):
            if outcome.revert_reason is not None:
                raise TransactionExecutionError(
                    {"transaction_index": 0, "execution_error": outcome.revert_reason})
            estimates.append(outcome.gas.to_estimate())
        return estimates

    def _rpc_simulateTransactions(self, block_id: Any, transactions: Any,
                                  simulation_flags: Any) -> list[Any]:
        self._block(block_id)
        flags = self._flags(simulation_flags, ("SKIP_VALIDATE", "SKIP_FEE_CHARGE"))
        return [{"transaction_trace": _trace(tx.type, outcome.traces, outcome.revert_reason,
                                             outcome.gas),
                 "fee_estimation": outcome.gas.to_estimate()}
                for tx, outcome in self._simulate_all(transactions, flags)]

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
        query = events.EventFilter(
            from_block=0 if from_block is None else from_block.number,
            to_block=len(self.chain.blocks) - 1 if to_block is None else to_block.number,
            address=None if address is None else felt(address, "address"),
            keys=parsed_keys, chunk_size=chunk_size, start=start)
        return events.page(self._matching_events(query), chunk_size, start)

    def _matching_events(self, query: events.EventFilter) -> list[dict[str, Any]]:
        matching = []
        for block in self.chain.blocks[query.from_block:query.to_block + 1]:
            for index, tx_hash in enumerate(block.tx_hashes):
                for event_index, event in enumerate(self.chain.receipts[tx_hash].events):
                    if query.matches(event):
                        matching.append({**event, "block_hash": hex(block.hash),
                                         "block_number": block.number,
                                         "transaction_hash": hex(tx_hash),
                                         "transaction_index": index,
                                         "event_index": event_index})
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
            self.chain = Chain.load(Path(path), self.chain.config)
        except (OSError, ValueError) as exc:
            raise InvalidParams(f"path: {exc}") from None
        return {"block_number": self.chain.latest.number}



def _invocation(call_info: CallInfo | None) -> dict[str, Any] | None:
    if call_info is None:
        return None
    return {
        "contract_address": hex(call_info.contract_address),
        "entry_point_selector": hex(call_info.entry_point_selector or 0),
        "calldata": _hexes(call_info.calldata), "caller_address": hex(call_info.caller_address),
        "class_hash": hex(call_info.class_hash or 0),
        "entry_point_type": call_info.entry_point_type.name if call_info.entry_point_type
        else "EXTERNAL",
        "call_type": "CALL", "result": _hexes(call_info.retdata),
        "calls": [_invocation(c) for c in call_info.internal_calls],
        "events": [{"order": e.order, "keys": _hexes(list(e.keys)), "data": _hexes(list(e.data))}
                   for e in call_info.events],
        "messages": [], "execution_resources": {"l1_gas": 0, "l2_gas": call_info.gas_consumed},
        "is_reverted": bool(call_info.failure_flag),
    }


def _trace(tx_type: str, traces: dict[str, CallInfo | None], revert_reason: str | None,
           gas: fees.GasUsage) -> dict[str, Any]:
    trace: dict[str, Any] = {"type": tx_type, "execution_resources": gas.to_resources()}
    if traces.get("validate") is not None:
        trace["validate_invocation"] = _invocation(traces["validate"])
    if tx_type == "INVOKE":
        trace["execute_invocation"] = ({"revert_reason": revert_reason} if revert_reason
                                       else _invocation(traces.get("execute")))
    if tx_type == "DEPLOY_ACCOUNT":
        trace["constructor_invocation"] = _invocation(traces.get("constructor"))
    return trace
