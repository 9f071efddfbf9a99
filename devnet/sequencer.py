"""The v3 transaction flow, checked like a sequencer, on top of cairo-lang's entry-point execution.

Order: version, sender, nonce, resource bounds against the fee-token balance, (declare: compile
and compare the compiled class hash; deploy-account: deploy and run the constructor), the account's
`__validate__*` (must return 'VALID'), nonce increment, `__execute__` in a nested state that a
failure discards (the transaction is then REVERTED, still paying its fee), and the fee transfer in
the fee token from the account to the sequencer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starkware.starknet.business_logic.execution.objects import CallInfo
from starkware.starknet.business_logic.state.state import CachedSyncState
from starkware.starknet.business_logic.state.state_api_objects import BlockInfo
from starkware.starknet.definitions.constants import VALIDATE_RETDATA
from starkware.starknet.definitions.data_availability_mode import DataAvailabilityMode
from starkware.starknet.definitions.execution_mode import ExecutionMode
from starkware.starknet.definitions.general_config import StarknetGeneralConfig
from starkware.starknet.public.abi import get_selector_from_name
from starkware.starknet.services.api.contract_class.contract_class import EntryPointType

from devnet.classes import DeclaredClass, compile_casm, compiled_class_hash
from devnet.errors import (
    ClassAlreadyDeclared,
    CompiledClassHashMismatch,
    InsufficientAccountBalance,
    InsufficientResourcesForValidate,
    InvalidTransactionNonce,
    ValidationFailure,
    WorkerFailed,
)
from devnet.execution import MAX_CALL_GAS, ExecutionFailed, TxContext, run_entry_point
from devnet.fee_token import FeeToken
from devnet.fees import DATA_GAS_PER_WORD, DECLARE_L2_GAS_PER_PROGRAM_WORD, L2_GAS_PRICE, GasUsage
from devnet.stages import TIMES, stage
from devnet.state import ChainState
from devnet.transactions import Transaction

if TYPE_CHECKING:
    from devnet.speculation import ValidateWorker
    from devnet.validate_worker import ValidateAnswer

logger = logging.getLogger(__name__)

L1 = DataAvailabilityMode.L1
VALIDATE_SELECTORS = {
    "INVOKE": get_selector_from_name("__validate__"),
    "DECLARE": get_selector_from_name("__validate_declare__"),
    "DEPLOY_ACCOUNT": get_selector_from_name("__validate_deploy__"),
}
EXECUTE_SELECTOR = get_selector_from_name("__execute__")
CONSTRUCTOR_SELECTOR = get_selector_from_name("constructor")
FEE_TRANSFER_WORDS = 2  # the sender's and the sequencer's balance, written after gas is counted


@dataclass
class Event:
    """An event as a receipt lists it."""

    from_address: int
    keys: list[int]
    data: list[int]

    def to_rpc(self) -> dict[str, Any]:
        return {"from_address": hex(self.from_address), "keys": [hex(k) for k in self.keys],
                "data": [hex(d) for d in self.data]}


@dataclass
class Outcome:
    """The result of running a transaction on a state view (not yet committed)."""

    tx: Transaction
    view: CachedSyncState
    gas: GasUsage
    fee: int
    events: list[Event] = field(default_factory=list)
    revert_reason: str | None = None
    declared: DeclaredClass | None = None
    traces: dict[str, CallInfo | None] = field(default_factory=dict)
    after: CachedSyncState | None = None


def events_of(call_info: CallInfo | None) -> list[Event]:
    """Events of a call tree in emission order."""
    if call_info is None:
        return []
    ordered = sorted(
        ((event.order, Event(call.contract_address, list(event.keys), list(event.data)))
         for call in call_info.gen_call_topology() for event in call.events),
        key=lambda pair: pair[0])
    return [event for _, event in ordered]


def tx_context(tx: Transaction) -> TxContext:
    """What `tx` shows the contracts it runs."""
    return TxContext(account=tx.sender, tx_hash=tx.hash, signature=tx.signature,
                     nonce=tx.nonce, version=tx.version)


def execute_gas(tx: Transaction, used: int) -> int:
    """The gas `__execute__` starts with after `used` gas (constructor and validation)."""
    if tx.is_query:
        return MAX_CALL_GAS
    return min(MAX_CALL_GAS, max(tx.resource_bounds["l2_gas"][0] - used, 0))


def validate_gas_key(tx: Transaction, account_class: int) -> tuple[int, int, int]:
    """What an invoke's `__validate__` gas mostly depends on: the account's class, the lengths
    of the calldata and of the signature."""
    return account_class, len(tx.calldata), len(tx.signature)


class Sequencer:
    """Checks and runs transactions against a `ChainState`."""

    def __init__(self, state: ChainState, config: StarknetGeneralConfig, fee_token: int,
                 casm_cache: Path | None = None) -> None:
        self.state = state
        self.config = config
        self.fee_token = FeeToken(fee_token)
        self.casm_cache = casm_cache
        self.worker: ValidateWorker | None = None
        """Runs `__validate__` of speculated invokes (`devnet.speculation`), if set."""
        self.validate_gas: dict[tuple[int, int, int], int] = {}
        """The gas of the last invoke's `__validate__` per account class, calldata and
        signature length (`validate_gas_key`): the speculation's guess."""

    def run(self, tx: Transaction, block_info: BlockInfo, *, validate: bool = True,
            charge_fee: bool = True, after: CachedSyncState | None = None,
            speculate: bool = False) -> Outcome:
        """Check and execute `tx` on a fresh view (on top of the uncommitted view `after`, if
        given); raise an RpcError if it must be rejected. With `speculate` (an invoke on the
        committed state), `__validate__` may run on the worker while `__execute__` runs here."""
        with stage("nonce and balance checks"):
            view = self._begin(block_info, after)
            self._check_nonce(view, tx)
            if charge_fee:
                self._check_bounds(view, tx)
        if (speculate and self.worker is not None and tx.type == "INVOKE" and after is None
                and validate and charge_fee):
            outcome = self._speculate(view, tx, block_info)
            if outcome is not None:
                return outcome
            view = self._begin(block_info, after)  # run again exactly as without the worker
        traces: dict[str, CallInfo | None] = {}
        declared = self._prepare_declare(view, tx) if tx.type == "DECLARE" else None
        context = tx_context(tx)
        if tx.type == "DEPLOY_ACCOUNT":
            traces["constructor"] = self._deploy_account(view, tx, context)
        if validate:
            with stage("__validate__"):
                traces["validate"] = self.validate(view, tx, context)
                self._remember_validate_gas(tx, traces["validate"])
        view.increment_nonce(L1, tx.sender)
        revert_reason = None
        if tx.type == "INVOKE":
            with stage("__execute__"):
                used = sum(c.gas_consumed for c in traces.values() if c is not None)
                traces["execute"], revert_reason = self._execute(view, tx, context, used)
        elif declared is not None:
            view.set_compiled_class_hash(declared.class_hash, declared.compiled_class_hash)
        return self._finish(Outcome(tx, view, GasUsage(0, 0, 0), 0, revert_reason=revert_reason,
                                    declared=declared, traces=traces, after=after), charge_fee)

    def _finish(self, outcome: Outcome, charge_fee: bool) -> Outcome:
        """Count the gas, the fee and the events of an executed transaction; charge the fee."""
        with stage("fee"):
            outcome.gas = self._gas_usage(outcome.view, outcome.traces, outcome.declared)
            outcome.fee = min(outcome.gas.fee, outcome.tx.max_fee) if charge_fee \
                else outcome.gas.fee
            outcome.events = [e for name in ("constructor", "validate", "execute")
                              for e in events_of(outcome.traces.get(name))]
            if charge_fee:
                outcome.events.append(self._charge_fee(outcome))
        return outcome

    def _speculate(self, view: CachedSyncState, tx: Transaction,
                   block_info: BlockInfo) -> Outcome | None:
        """`__validate__` on the worker while `__execute__` runs here on the state after the
        nonce increment; the Outcome if the speculation holds (docs/devnet.md, "Speed"), else
        None (the reason counted) and the caller runs the transaction again."""
        assert self.worker is not None
        request = self.worker.submit(tx, block_info)
        if request is None:
            TIMES.count("speculation re-run: worker not ready")
            return None
        key = validate_gas_key(tx, view.get_class_hash_at(tx.sender))
        predicted = self.validate_gas.get(key, 0)
        view.increment_nonce(L1, tx.sender)
        with stage("__execute__"):
            try:
                execute, revert_reason = self._execute(view, tx, tx_context(tx), predicted)
            except Exception:  # not a Cairo failure: the serial run decides (validate first)
                TIMES.count("speculation re-run: execute raised")
                return None
        with stage("__validate__ hand-over"):
            try:
                answer = self.worker.answer(request)
            except WorkerFailed as failure:
                TIMES.count(f"speculation re-run: {failure.reason}")
                return None
        TIMES.add("__validate__ (worker)", answer.nanoseconds)
        reason = self._rejection(answer, tx, predicted)
        if reason is not None:
            TIMES.count(f"speculation re-run: {reason}")
            return None
        TIMES.count("speculation accepted")
        traces = {"validate": answer.call_info, "execute": execute}
        return self._finish(Outcome(tx, view, GasUsage(0, 0, 0), 0, revert_reason=revert_reason,
                                    traces=traces), charge_fee=True)

    def _remember_validate_gas(self, tx: Transaction, call_info: CallInfo) -> None:
        if tx.type == "INVOKE" and call_info.class_hash is not None:
            self.validate_gas[validate_gas_key(tx, call_info.class_hash)] = call_info.gas_consumed

    def _rejection(self, answer: ValidateAnswer, tx: Transaction, predicted: int) -> str | None:
        """Why the worker's `__validate__` and the speculative `__execute__` cannot stand for
        the serial run (None if they can): the three conditions of docs/devnet.md."""
        if answer.refusal is not None or answer.call_info is None or answer.reads is None:
            return "validate refused"  # decided again here, with the serial run's own error
        self._remember_validate_gas(tx, answer.call_info)
        if answer.wrote:
            return "validate wrote state"
        if execute_gas(tx, answer.call_info.gas_consumed) != execute_gas(tx, predicted):
            return "execute gas differs"
        if not answer.reads.hold_in(self.state):
            return "validate reads differ"
        return None

    def _begin(self, block_info: BlockInfo, after: CachedSyncState | None) -> CachedSyncState:
        return self.state.begin(block_info) if after is None else after._copy()

    def _check_nonce(self, view: CachedSyncState, tx: Transaction) -> None:
        if tx.type != "DEPLOY_ACCOUNT" and view.get_class_hash_at(tx.sender) == 0:
            raise ValidationFailure(f"account {hex(tx.sender)} is not deployed")
        expected = view.get_nonce_at(L1, tx.sender)
        if tx.nonce != expected:
            raise InvalidTransactionNonce(
                f"account {hex(tx.sender)} has nonce {hex(expected)}, got {hex(tx.nonce)}")

    def _check_bounds(self, view: CachedSyncState, tx: Transaction) -> None:
        l2_amount, l2_price = tx.resource_bounds["l2_gas"]
        if l2_price < L2_GAS_PRICE or l2_amount == 0:
            raise InsufficientResourcesForValidate(
                f"l2_gas bounds ({l2_amount} at {l2_price}) do not cover the price {L2_GAS_PRICE}")
        balance = self.fee_token.balance(view, tx.sender)
        if tx.max_fee > balance:
            raise InsufficientAccountBalance(
                f"max fee {tx.max_fee} exceeds the balance {balance} of {hex(tx.sender)}")

    def _prepare_declare(self, view: CachedSyncState, tx: Transaction) -> DeclaredClass:
        if view.get_compiled_class_hash(tx.class_hash) != 0:
            raise ClassAlreadyDeclared(f"class {hex(tx.class_hash)} is already declared")
        assert tx.contract_class is not None
        casm = compile_casm(tx.contract_class, self.casm_cache)
        actual = compiled_class_hash(casm)
        if actual != tx.compiled_class_hash:
            raise CompiledClassHashMismatch(
                f"expected {hex(actual)} (Blake2s), got {hex(tx.compiled_class_hash)}")
        return DeclaredClass(tx.class_hash, actual, tx.contract_class, casm)

    def _deploy_account(self, view: CachedSyncState, tx: Transaction,
                        context: TxContext) -> CallInfo:
        if view.get_compiled_class_hash(tx.class_hash) == 0:
            raise ValidationFailure(f"class {hex(tx.class_hash)} is not declared")
        if view.get_class_hash_at(tx.sender) != 0:
            raise ValidationFailure(f"an account is already deployed at {hex(tx.sender)}")
        view.deploy_contract(tx.sender, tx.class_hash)
        try:
            return run_entry_point(
                view, self.config, contract=tx.sender, selector=CONSTRUCTOR_SELECTOR,
                calldata=tx.calldata, entry_point_type=EntryPointType.CONSTRUCTOR,
                context=context)
        except ExecutionFailed as exc:
            raise ValidationFailure(f"account constructor failed: {exc.reason}") from exc

    def validate(self, view: CachedSyncState, tx: Transaction, context: TxContext) -> CallInfo:
        """Run the account's `__validate*__` on `view`; ValidationFailure unless 'VALID'."""
        if tx.type == "INVOKE":
            calldata = tx.calldata
        elif tx.type == "DECLARE":
            calldata = [tx.class_hash]
        else:
            calldata = [tx.class_hash, tx.salt, *tx.calldata]
        try:
            call_info = run_entry_point(
                view, self.config, contract=tx.sender, selector=VALIDATE_SELECTORS[tx.type],
                calldata=calldata, context=context, mode=ExecutionMode.VALIDATE)
        except ExecutionFailed as exc:
            raise ValidationFailure(exc.reason) from exc
        if call_info.retdata != VALIDATE_RETDATA:
            raise ValidationFailure(f"__validate__ returned {call_info.retdata}, not 'VALID'")
        return call_info

    def _execute(self, view: CachedSyncState, tx: Transaction, context: TxContext,
                 used: int) -> tuple[CallInfo | None, str | None]:
        """`__execute__` after `used` gas, in a nested view that a failure discards."""
        nested = view._copy()
        try:
            call_info = run_entry_point(
                nested, self.config, contract=tx.sender, selector=EXECUTE_SELECTOR,
                calldata=tx.calldata, context=context, gas=execute_gas(tx, used))
        except ExecutionFailed as exc:
            return exc.call_info, exc.reason
        nested._apply(parent=view)
        return call_info, None

    def _gas_usage(self, view: CachedSyncState, traces: dict[str, CallInfo | None],
                   declared: DeclaredClass | None) -> GasUsage:
        l2_gas = sum(c.gas_consumed for c in traces.values() if c is not None)
        cache = view.cache
        words = (len(cache._storage_writes) + len(cache._nonce_writes) + FEE_TRANSFER_WORDS
                 + len(cache._class_hash_writes) + 2 * len(cache._compiled_class_hash_writes))
        if declared is not None:
            l2_gas += DECLARE_L2_GAS_PER_PROGRAM_WORD * len(declared.sierra["sierra_program"])
        return GasUsage(l1_gas=0, l1_data_gas=DATA_GAS_PER_WORD * words, l2_gas=l2_gas)

    def _charge_fee(self, outcome: Outcome) -> Event:
        """Move the fee from the account to the sequencer in the fee token."""
        sender = outcome.tx.sender
        if self.fee_token.balance(outcome.view, sender) < outcome.fee:
            # Execution spent the funds the fee needs: revert it and charge on the state before.
            outcome.revert_reason = "Insufficient fee-token balance to pay the fee after execution"
            outcome.view = self._rerun_without_execute(outcome)
        sequencer = outcome.view.block_info.sequencer_address or 0
        keys, data = self.fee_token.transfer(outcome.view, sender, sequencer, outcome.fee)
        return Event(self.fee_token.address, keys, data)

    def _rerun_without_execute(self, outcome: Outcome) -> CachedSyncState:
        """A view with only the nonce increment (writes of `__validate__` are dropped too)."""
        view = self._begin(outcome.view.block_info, outcome.after)
        view.increment_nonce(L1, outcome.tx.sender)
        outcome.traces.pop("execute", None)
        outcome.events = [e for name in ("constructor", "validate")
                          for e in events_of(outcome.traces.get(name))]
        return view
