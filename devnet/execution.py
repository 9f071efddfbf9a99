"""Entry-point execution through cairo-lang's Starknet business logic."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starkware.starknet.business_logic.execution.deprecated_objects import (
    ExecutionResourcesManager,
)
from starkware.starknet.business_logic.execution.execute_entry_point import ExecuteEntryPoint
from starkware.starknet.business_logic.execution.objects import (
    CallInfo,
    TransactionExecutionContext,
)
from starkware.starknet.business_logic.state.state_api import SyncState
from starkware.starknet.definitions.constants import VERSIONED_CONSTANTS, GasCost
from starkware.starknet.definitions.execution_mode import ExecutionMode
from starkware.starknet.definitions.general_config import StarknetGeneralConfig
from starkware.starknet.services.api.contract_class.contract_class import EntryPointType
from starkware.starkware_utils.error_handling import StarkException

from devnet import accel
from devnet.runner import DevnetRunner

MAX_CALL_GAS = GasCost.DEFAULT_INITIAL.value
accel.install()  # the ECDSA hints and the EC-op builtin resolve these helpers at call time


@dataclass(frozen=True)
class TxContext:
    """What a transaction exposes to the contracts it runs (`get_tx_info`)."""

    account: int = 0
    tx_hash: int = 0
    signature: list[int] = field(default_factory=list)
    nonce: int = 0
    version: int = 3

    def for_mode(self, mode: ExecutionMode) -> TransactionExecutionContext:
        n_steps = (VERSIONED_CONSTANTS.validate_max_n_steps if mode is ExecutionMode.VALIDATE
                   else VERSIONED_CONSTANTS.invoke_tx_max_n_steps)
        return TransactionExecutionContext.create(
            account_contract_address=self.account, transaction_hash=self.tx_hash,
            signature=self.signature, max_fee=0, nonce=self.nonce, n_steps=n_steps,
            version=self.version, execution_mode=mode)


class DevnetEntryPoint(ExecuteEntryPoint):
    """cairo-lang's entry-point execution with the program set-up cached per class
    (`devnet.runner`), minus the memory security scan after each run.

    The scan (`verify_secure_runner`) walks the whole VM memory once per builtin and took a
    quarter of each run's time. It guards against hand-written CASM; every class here is CASM that
    the Sierra compiler produced, which is memory-safe by construction. Nested calls reuse this
    class (cairo-lang's syscall handler instantiates `type(entry_point)`). The two class flags
    switch back to stock behaviour for side-by-side measurements.
    """

    skip_security_scan = True
    cached_setup = True

    def _run(self, runner: Any, **kwargs: Any) -> None:
        if self.cached_setup:
            runner = DevnetRunner.adopt(runner)
        if not self.skip_security_scan:
            super()._run(runner=runner, **kwargs)
            return
        run = runner.run_from_entrypoint

        def run_unscanned(*args: Any, verify_secure: bool = True, **options: Any) -> None:
            run(*args, verify_secure=False, **options)

        runner.run_from_entrypoint = run_unscanned
        super()._run(runner=runner, **kwargs)


class ExecutionFailed(Exception):
    """An entry point panicked or hit a VM error; `reason` is the readable cause."""

    def __init__(self, reason: str, call_info: CallInfo | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.call_info = call_info


def decode_failure(retdata: list[int]) -> str:
    """Render a Cairo panic's data: short strings as text, other felts in hex."""
    parts = []
    for felt in retdata:
        raw = felt.to_bytes(32, "big").lstrip(b"\0")
        text = raw.decode("ascii", errors="replace") if raw else ""
        printable = raw and all(32 <= b < 127 for b in raw)
        parts.append(f"{hex(felt)} ('{text}')" if printable else hex(felt))
    return "Execution failed. Failure reason: " + ", ".join(parts) + "."


def run_entry_point(
    state: SyncState,
    config: StarknetGeneralConfig,
    *,
    contract: int,
    selector: int,
    calldata: list[int],
    caller: int = 0,
    entry_point_type: EntryPointType = EntryPointType.EXTERNAL,
    context: TxContext | None = None,
    mode: ExecutionMode = ExecutionMode.EXECUTE,
    gas: int = MAX_CALL_GAS,
) -> CallInfo:
    """Run one entry point on `state`; raise ExecutionFailed if it panics or the VM fails."""
    entry_point = DevnetEntryPoint.create(
        contract_address=contract, calldata=calldata, entry_point_selector=selector,
        caller_address=caller, initial_gas=gas, entry_point_type=entry_point_type)
    try:
        call_info = entry_point.execute(
            state=state, resources_manager=ExecutionResourcesManager.empty(),
            tx_execution_context=(context or TxContext()).for_mode(mode),
            general_config=config, support_reverted=True)
    except StarkException as exc:
        raise ExecutionFailed(exc.message or str(exc.code)) from exc
    if call_info.failure_flag:
        raise ExecutionFailed(decode_failure(call_info.retdata), call_info)
    return call_info

