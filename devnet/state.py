"""Committed chain state: storage, nonces, deployed contracts and declared classes, in memory.

`ChainState` is the reader under cairo-lang's `CachedSyncState`: a transaction runs against a
cache, and `commit` writes the cache's changes back once the transaction is accepted. Every change
goes through `apply`, which counts it (`version`) and hands it to the `watchers` in order (the
`__validate__` worker's replica is fed that way).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

from starkware.starknet.business_logic.state.state import CachedSyncState, StateCache
from starkware.starknet.business_logic.state.state_api import (
    SyncStateReader,
    get_stark_exception_on_undeclared_contract,
)
from starkware.starknet.business_logic.state.state_api_objects import BlockInfo
from starkware.starknet.definitions.data_availability_mode import DataAvailabilityMode
from starkware.starknet.services.api.contract_class.contract_class import (
    CompiledClass,
    CompiledClassBase,
    ContractClass,
)

from devnet.classes import DeclaredClass
from devnet.state_diff import StateDiff

Watcher = Callable[[int, StateDiff, tuple[DeclaredClass, ...]], None]


class ChainState(SyncStateReader):
    """The state all accepted transactions have produced so far."""

    def __init__(self) -> None:
        self.storage: dict[tuple[int, int], int] = {}
        self.nonces: dict[int, int] = {}
        self.class_hash_at: dict[int, int] = {}
        self.compiled_class_hashes: dict[int, int] = {}
        self.compiled_classes: dict[int, CompiledClass] = {}
        self.sierra_classes: dict[int, dict[str, Any]] = {}
        self.casm_classes: dict[int, dict[str, Any]] = {}
        self.token = uuid.uuid4().hex
        """Names this state object: a replica answers for (token, version) only."""
        self.version = 0
        """Changes applied since this object was built (or loaded)."""
        self.watchers: list[Watcher] = []
        """Called with (version, diff, declared classes) after each change."""

    # SyncStateReader interface, as cairo-lang's execution calls it.
    def get_compiled_class(self, compiled_class_hash: int) -> CompiledClassBase:
        if compiled_class_hash not in self.compiled_classes:
            raise get_stark_exception_on_undeclared_contract(class_hash=compiled_class_hash)
        return self.compiled_classes[compiled_class_hash]

    def get_sierra_class(self, class_hash: int) -> ContractClass:
        return ContractClass.load(self.sierra_classes[class_hash])

    def get_compiled_class_hash(self, class_hash: int) -> int:
        return self.compiled_class_hashes.get(class_hash, 0)

    def get_class_hash_at(self, contract_address: int) -> int:
        return self.class_hash_at.get(contract_address, 0)

    def get_nonce_at(self, data_availability_mode: DataAvailabilityMode,
                     contract_address: int) -> int:
        return self.nonces.get(contract_address, 0)

    def get_storage_at(self, data_availability_mode: DataAvailabilityMode,
                       contract_address: int, key: int) -> int:
        return self.storage.get((contract_address, key), 0)

    # Devnet interface.
    def add_class(self, class_hash: int, compiled_class_hash: int, sierra: dict[str, Any],
                  casm: dict[str, Any]) -> None:
        """Declare a class: its Sierra form for `getClass`, its CASM form for execution."""
        self.apply(StateDiff(), (DeclaredClass(class_hash, compiled_class_hash, sierra, casm),))

    def begin(self, block_info: BlockInfo) -> CachedSyncState:
        """A writable view for one transaction; nothing reaches this state before `commit`."""
        return CachedSyncState(block_info=block_info, state_reader=self,
                               compiled_class_cache=self.compiled_classes)

    def commit(self, cache: StateCache) -> None:
        """Apply the writes of a finished transaction."""
        self.apply(StateDiff.from_cache(cache))

    def apply(self, diff: StateDiff, classes: tuple[DeclaredClass, ...] = ()) -> None:
        """Write `diff` and declare `classes`; count the change and tell the watchers."""
        self.storage.update(diff.storage)
        self.nonces.update(diff.nonces)
        self.class_hash_at.update(diff.deployed)
        self.compiled_class_hashes.update(diff.declared)
        for declared in classes:
            self.compiled_class_hashes[declared.class_hash] = declared.compiled_class_hash
            # `load` rewrites parts of the dict it is given; keep the original intact.
            self.compiled_classes[declared.compiled_class_hash] = CompiledClass.load(
                copy.deepcopy(declared.casm))
            self.sierra_classes[declared.class_hash] = declared.sierra
            self.casm_classes[declared.class_hash] = declared.casm
        self.version += 1
        for watcher in self.watchers:
            watcher(self.version, diff, classes)

    def to_json(self) -> dict[str, Any]:
        """Everything needed to rebuild this state, as JSON-compatible data."""
        return {
            "storage": [[hex(a), hex(k), hex(v)] for (a, k), v in self.storage.items()],
            "nonces": {hex(a): n for a, n in self.nonces.items()},
            "class_hash_at": {hex(a): hex(c) for a, c in self.class_hash_at.items()},
            "classes": [
                {"class_hash": hex(c), "compiled_class_hash": hex(cc),
                 "sierra": self.sierra_classes[c], "casm": self.casm_classes[c]}
                for c, cc in self.compiled_class_hashes.items()
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChainState:
        """Rebuild a state written by `to_json`."""
        state = cls()
        for entry in data["classes"]:
            state.add_class(int(entry["class_hash"], 16), int(entry["compiled_class_hash"], 16),
                            entry["sierra"], entry["casm"])
        state.storage = {(int(a, 16), int(k, 16)): int(v, 16) for a, k, v in data["storage"]}
        state.nonces = {int(a, 16): n for a, n in data["nonces"].items()}
        state.class_hash_at = {int(a, 16): int(c, 16) for a, c in data["class_hash_at"].items()}
        return state
