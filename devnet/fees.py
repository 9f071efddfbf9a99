"""The devnet's fee model: fixed gas prices in FRI, and gas counted from the execution.

- L2 gas: the Sierra gas that cairo-lang reports for validation, execution and constructor runs.
- L1 data gas: `DATA_GAS_PER_WORD` per word of state diff (storage cells, nonces, class changes).
- L1 gas: none (the devnet sends no messages to L1).
The fee is the sum of each resource's amount times its price, paid in the fee token (FRI).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

L1_GAS_PRICE = 10**11
L1_DATA_GAS_PRICE = 10**9
L2_GAS_PRICE = 10**9
DATA_GAS_PER_WORD = 32
DECLARE_L2_GAS_PER_PROGRAM_WORD = 100


@dataclass(frozen=True)
class GasUsage:
    """Gas amounts a transaction consumed (or is estimated to consume)."""

    l1_gas: int = 0
    l1_data_gas: int = 0
    l2_gas: int = 0

    @property
    def fee(self) -> int:
        return (self.l1_gas * L1_GAS_PRICE + self.l1_data_gas * L1_DATA_GAS_PRICE
                + self.l2_gas * L2_GAS_PRICE)

    def to_resources(self) -> dict[str, int]:
        """EXECUTION_RESOURCES of a receipt."""
        return {"l1_gas": self.l1_gas, "l1_data_gas": self.l1_data_gas, "l2_gas": self.l2_gas}

    def to_estimate(self) -> dict[str, Any]:
        """FEE_ESTIMATE of `starknet_estimateFee`."""
        return {
            "l1_gas_consumed": hex(self.l1_gas), "l1_gas_price": hex(L1_GAS_PRICE),
            "l2_gas_consumed": hex(self.l2_gas), "l2_gas_price": hex(L2_GAS_PRICE),
            "l1_data_gas_consumed": hex(self.l1_data_gas),
            "l1_data_gas_price": hex(L1_DATA_GAS_PRICE),
            "overall_fee": hex(self.fee), "unit": "FRI",
        }


def resource_prices() -> dict[str, dict[str, str]]:
    """The gas prices of a block header."""
    def price(value: int) -> dict[str, str]:
        return {"price_in_fri": hex(value), "price_in_wei": hex(value)}

    return {"l1_gas_price": price(L1_GAS_PRICE), "l2_gas_price": price(L2_GAS_PRICE),
            "l1_data_gas_price": price(L1_DATA_GAS_PRICE)}
