"""Transaction parsing and hashing: agreement with starknet-py, and refusal of bad input."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from starknet_py.common import create_sierra_compiled_contract
from starknet_py.net.client_models import ResourceBounds, ResourceBoundsMapping
from starknet_py.net.client_utils import _create_broadcasted_txn
from starknet_py.net.models.transaction import DeclareV3, DeployAccountV3, InvokeV3

from devnet.classes import builtin_class
from devnet.errors import (
    InvalidParams,
    RpcError,
    UnsupportedContractClassVersion,
    UnsupportedTxVersion,
)
from devnet.transactions import parse_transaction

CHAIN_ID = int.from_bytes(b"SN_SEPOLIA", "big")
BOUNDS = ResourceBoundsMapping(
    l1_gas=ResourceBounds(max_amount=1, max_price_per_unit=2),
    l1_data_gas=ResourceBounds(max_amount=3, max_price_per_unit=4),
    l2_gas=ResourceBounds(max_amount=5 * 10**6, max_price_per_unit=6 * 10**9),
)
COMMON: dict[str, Any] = {
    "resource_bounds": BOUNDS,
    "tip": 7,
    "nonce": 8,
    "signature": [1, 2],
    "version": 3,
}


def sample_transactions() -> list[Any]:
    sierra = builtin_class("sample").sierra
    contract_class = create_sierra_compiled_contract(
        json.dumps(sierra)
    ).convert_to_sierra_contract_class()
    return [
        InvokeV3(**COMMON, sender_address=0x123, calldata=[1, 2, 3]),
        DeployAccountV3(
            **COMMON, class_hash=0x456, contract_address_salt=9, constructor_calldata=[10]
        ),
        DeclareV3(
            **COMMON, sender_address=0x123, compiled_class_hash=0x789, contract_class=contract_class
        ),
    ]


@pytest.mark.parametrize("tx", sample_transactions(), ids=lambda tx: type(tx).__name__)
def test_hash_agrees_with_starknet_py(tx: Any) -> None:
    parsed = parse_transaction(_create_broadcasted_txn(tx), CHAIN_ID)
    assert parsed.hash == tx.calculate_hash(CHAIN_ID)


def invoke_json() -> dict[str, Any]:
    return _create_broadcasted_txn(InvokeV3(**COMMON, sender_address=0x123, calldata=[1]))


def changed(path: list[Any], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(invoke_json())
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("data", "error", "text"),
    [
        ("not an object", InvalidParams, "expected an object"),
        (changed(["type"], "TRANSFER"), InvalidParams, "type"),
        (changed(["nonce"], KeyError), InvalidParams, "missing field 'nonce'"),
        (changed(["nonce"], 5), InvalidParams, "nonce: expected a hex string"),
        (changed(["nonce"], "0xzz"), InvalidParams, "not a hex number"),
        (changed(["sender_address"], hex(2**251 + 17 * 2**192 + 1)), InvalidParams, "field range"),
        (changed(["calldata"], "0x1"), InvalidParams, "calldata: expected a list"),
        (changed(["calldata"], ["0x1", None]), InvalidParams, "calldata[1]"),
        (changed(["resource_bounds", "l2_gas"], KeyError), InvalidParams, "'l2_gas'"),
        (
            changed(["resource_bounds", "l2_gas", "max_amount"], hex(2**64)),
            InvalidParams,
            "64 bits",
        ),
        (changed(["tip"], hex(2**64)), InvalidParams, "tip: exceeds"),
        (changed(["nonce_data_availability_mode"], "L2"), InvalidParams, "only L1"),
        (changed(["version"], "0x1"), UnsupportedTxVersion, "v3 only"),
        (changed(["proof_facts"], ["0x1"]), InvalidParams, "proof_facts"),
    ],
)
def test_bad_transaction_is_refused_with_the_field_named(
    data: Any, error: type[RpcError], text: str
) -> None:
    with pytest.raises(error) as refused:
        parse_transaction(data, CHAIN_ID)
    assert text in str(refused.value)


def test_declare_of_unknown_class_version_is_refused() -> None:
    declare = _create_broadcasted_txn(sample_transactions()[2])
    declare["contract_class"]["contract_class_version"] = "0.2.0"
    with pytest.raises(UnsupportedContractClassVersion):
        parse_transaction(declare, CHAIN_ID)
