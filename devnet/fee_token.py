"""Direct access to the fee token's balances (the devnet's own ERC20 storage layout).

The sequencer charges fees by debiting the account and crediting the sequencer in the token's
storage and recording the token's standard `Transfer` event, which is what running the token's
`transfer` would do, without the cost of a Cairo run.
"""

from __future__ import annotations

from starkware.starknet.business_logic.state.state import CachedSyncState
from starkware.starknet.business_logic.state.state_api import SyncStateReader
from starkware.starknet.definitions.data_availability_mode import DataAvailabilityMode
from starkware.starknet.public.abi import get_selector_from_name, get_storage_var_address

L1 = DataAvailabilityMode.L1
TRANSFER_EVENT_KEY = get_selector_from_name("Transfer")
U128 = 2**128


class FeeToken:
    """Reads and moves balances of the ERC20 deployed at `address`."""

    def __init__(self, address: int) -> None:
        self.address = address

    def _read_u256(self, state: SyncStateReader, key: int) -> int:
        low = state.get_storage_at(L1, self.address, key)
        return low + (state.get_storage_at(L1, self.address, key + 1) << 128)

    def _write_u256(self, view: CachedSyncState, key: int, value: int) -> None:
        view.set_storage_at(L1, self.address, key, value % U128)
        view.set_storage_at(L1, self.address, key + 1, value // U128)

    def balance(self, state: SyncStateReader, owner: int) -> int:
        return self._read_u256(state, get_storage_var_address("balances", owner))

    def mint(self, view: CachedSyncState, owner: int, amount: int) -> int:
        """Credit `amount` to `owner` and the total supply; return the new balance."""
        balance = self.balance(view, owner) + amount
        self._write_u256(view, get_storage_var_address("balances", owner), balance)
        supply_key = get_storage_var_address("total_supply")
        self._write_u256(view, supply_key, self._read_u256(view, supply_key) + amount)
        return balance

    def transfer(self, view: CachedSyncState, sender: int, recipient: int,
                 amount: int) -> tuple[list[int], list[int]]:
        """Move `amount` (at most the sender's balance); return the Transfer event's keys, data."""
        sender_balance = self.balance(view, sender)
        if amount > sender_balance:
            raise ValueError(f"balance {sender_balance} of {hex(sender)} is below {amount}")
        self._write_u256(view, get_storage_var_address("balances", sender), sender_balance - amount)
        recipient_key = get_storage_var_address("balances", recipient)
        self._write_u256(view, recipient_key, self._read_u256(view, recipient_key) + amount)
        return [TRANSFER_EVENT_KEY, sender, recipient], [amount % U128, amount // U128]
