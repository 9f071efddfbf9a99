"""What a transaction or block changed in the state, as `starknet_getStateUpdate` reports it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starkware.starknet.business_logic.state.state import StateCache
from starkware.starknet.business_logic.state.state_api import SyncStateReader
from starkware.starknet.definitions.data_availability_mode import DataAvailabilityMode


@dataclass
class StateDiff:
    """Storage cells, nonces, deployed contracts and declared classes written."""

    storage: dict[tuple[int, int], int] = field(default_factory=dict)
    nonces: dict[int, int] = field(default_factory=dict)
    deployed: dict[int, int] = field(default_factory=dict)
    declared: dict[int, int] = field(default_factory=dict)

    @classmethod
    def from_cache(cls, cache: StateCache) -> StateDiff:
        return cls(dict(cache._storage_writes), dict(cache._nonce_writes),
                   dict(cache._class_hash_writes), dict(cache._compiled_class_hash_writes))

    def previous_values(self, state: SyncStateReader) -> StateDiff:
        """The values the cells of this diff hold in `state` (before the diff applies)."""
        l1 = DataAvailabilityMode.L1
        return StateDiff(
            {(a, k): state.get_storage_at(l1, a, k) for a, k in self.storage},
            {a: state.get_nonce_at(l1, a) for a in self.nonces},
            {a: state.get_class_hash_at(a) for a in self.deployed},
            {c: state.get_compiled_class_hash(c) for c in self.declared})

    def merge(self, later: StateDiff) -> StateDiff:
        """This diff followed by `later`."""
        return StateDiff({**self.storage, **later.storage}, {**self.nonces, **later.nonces},
                         {**self.deployed, **later.deployed}, {**self.declared, **later.declared})

    def __len__(self) -> int:
        return len(self.storage) + len(self.nonces) + len(self.deployed) + len(self.declared)

    def to_rpc(self) -> dict[str, Any]:
        by_contract: dict[int, list[dict[str, str]]] = {}
        for (address, key), value in self.storage.items():
            by_contract.setdefault(address, []).append({"key": hex(key), "value": hex(value)})
        return {
            "storage_diffs": [{"address": hex(a), "storage_entries": e}
                              for a, e in by_contract.items()],
            "deprecated_declared_classes": [],
            "declared_classes": [{"class_hash": hex(c), "compiled_class_hash": hex(cc)}
                                 for c, cc in self.declared.items()],
            "deployed_contracts": [{"address": hex(a), "class_hash": hex(c)}
                                   for a, c in self.deployed.items()],
            "replaced_classes": [],
            "nonces": [{"contract_address": hex(a), "nonce": hex(n)}
                       for a, n in self.nonces.items()],
        }

    def to_json(self) -> dict[str, Any]:
        return {"storage": [[hex(a), hex(k), hex(v)] for (a, k), v in self.storage.items()],
                "nonces": {hex(a): n for a, n in self.nonces.items()},
                "deployed": {hex(a): hex(c) for a, c in self.deployed.items()},
                "declared": {hex(c): hex(cc) for c, cc in self.declared.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StateDiff:
        return cls({(int(a, 16), int(k, 16)): int(v, 16) for a, k, v in data["storage"]},
                   {int(a, 16): n for a, n in data["nonces"].items()},
                   {int(a, 16): int(c, 16) for a, c in data["deployed"].items()},
                   {int(c, 16): int(cc, 16) for c, cc in data["declared"].items()})
