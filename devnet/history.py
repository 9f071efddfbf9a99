"""The state as it was after a given block, rebuilt from the values transactions overwrote."""

from __future__ import annotations

from starkware.starknet.business_logic.state.state_api import SyncStateReader
from starkware.starknet.definitions.data_availability_mode import DataAvailabilityMode
from starkware.starknet.services.api.contract_class.contract_class import (
    CompiledClassBase,
    ContractClass,
)

from devnet.state import ChainState
from devnet.state_diff import StateDiff


class HistoricalState(SyncStateReader):
    """`current` with the writes of later transactions undone (`undo` holds their old values)."""

    def __init__(self, current: ChainState, later_previous_values: list[StateDiff]) -> None:
        self.current = current
        self.undo = StateDiff()
        for previous in reversed(later_previous_values):  # the earliest old value wins
            self.undo = self.undo.merge(previous)

    def get_compiled_class(self, compiled_class_hash: int) -> CompiledClassBase:
        return self.current.get_compiled_class(compiled_class_hash)

    def get_sierra_class(self, class_hash: int) -> ContractClass:
        return self.current.get_sierra_class(class_hash)

    def get_compiled_class_hash(self, class_hash: int) -> int:
        return self.undo.declared.get(class_hash, self.current.get_compiled_class_hash(class_hash))

    def get_class_hash_at(self, contract_address: int) -> int:
        return self.undo.deployed.get(contract_address,
                                      self.current.get_class_hash_at(contract_address))

    def get_nonce_at(self, data_availability_mode: DataAvailabilityMode,
                     contract_address: int) -> int:
        return self.undo.nonces.get(contract_address, self.current.nonces.get(contract_address, 0))

    def get_storage_at(self, data_availability_mode: DataAvailabilityMode,
                       contract_address: int, key: int) -> int:
        cell = (contract_address, key)
        return self.undo.storage.get(cell, self.current.storage.get(cell, 0))
