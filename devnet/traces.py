"""Transaction traces (`simulateTransactions`, `traceTransaction`) from cairo-lang call infos."""

from __future__ import annotations

from typing import Any

from starkware.starknet.business_logic.execution.objects import CallInfo

from devnet.sequencer import Outcome
from devnet.transactions import hexes


def _invocation(call_info: CallInfo | None) -> dict[str, Any] | None:
    if call_info is None:
        return None
    return {
        "contract_address": hex(call_info.contract_address),
        "entry_point_selector": hex(call_info.entry_point_selector or 0),
        "calldata": hexes(call_info.calldata), "caller_address": hex(call_info.caller_address),
        "class_hash": hex(call_info.class_hash or 0),
        "entry_point_type": call_info.entry_point_type.name if call_info.entry_point_type
        else "EXTERNAL",
        "call_type": "CALL", "result": hexes(call_info.retdata),
        "calls": [_invocation(c) for c in call_info.internal_calls],
        "events": [{"order": e.order, "keys": hexes(list(e.keys)), "data": hexes(list(e.data))}
                   for e in call_info.events],
        "messages": [], "execution_resources": {"l1_gas": 0, "l2_gas": call_info.gas_consumed},
        "is_reverted": bool(call_info.failure_flag),
    }


def transaction_trace(outcome: Outcome) -> dict[str, Any]:
    """TRANSACTION_TRACE of an executed transaction."""
    tx_type, traces, revert_reason = outcome.tx.type, outcome.traces, outcome.revert_reason
    trace: dict[str, Any] = {"type": tx_type, "execution_resources": outcome.gas.to_resources()}
    if traces.get("validate") is not None:
        trace["validate_invocation"] = _invocation(traces["validate"])
    if tx_type == "INVOKE":
        trace["execute_invocation"] = ({"revert_reason": revert_reason} if revert_reason
                                       else _invocation(traces.get("execute")))
    if tx_type == "DEPLOY_ACCOUNT":
        trace["constructor_invocation"] = _invocation(traces.get("constructor"))
    return trace
