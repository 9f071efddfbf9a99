"""V3 transactions: parsing from JSON-RPC, hashing (cairo-lang's definitions) and RPC output."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from starkware.starknet.core.os.contract_address.contract_address import (
    calculate_contract_address_from_hash,
)
from starkware.starknet.core.os.transaction_hash.transaction_hash import (
    calculate_declare_transaction_hash,
    calculate_deploy_account_transaction_hash,
    calculate_invoke_transaction_hash,
)
from starkware.starknet.definitions.fields import Resource, ResourceBounds
from starkware.starknet.services.api.contract_class.contract_class import ContractClass

from devnet.classes import sierra_class_hash
from devnet.errors import InvalidParams, UnsupportedContractClassVersion, UnsupportedTxVersion
from devnet.stages import stage

FIELD_PRIME = 2**251 + 17 * 2**192 + 1
QUERY_VERSION_BASE = 2**128
RESOURCES = {"l1_gas": Resource.L1_GAS, "l2_gas": Resource.L2_GAS,
             "l1_data_gas": Resource.L1_DATA_GAS}
TX_TYPES = ("INVOKE", "DECLARE", "DEPLOY_ACCOUNT")
SIERRA_CLASS_VERSION = "0.1.0"


def felt(value: Any, name: str) -> int:
    """A field element from its RPC hex form; InvalidParams on anything else."""
    if not isinstance(value, str) or not value.startswith("0x"):
        raise InvalidParams(f"{name}: expected a hex string, got {value!r:.80}")
    try:
        number = int(value, 16)
    except ValueError:
        raise InvalidParams(f"{name}: not a hex number: {value!r:.80}") from None
    if number >= FIELD_PRIME:
        raise InvalidParams(f"{name}: out of the field range")
    return number


def felts(value: Any, name: str) -> list[int]:
    if not isinstance(value, list):
        raise InvalidParams(f"{name}: expected a list of hex strings")
    return [felt(item, f"{name}[{i}]") for i, item in enumerate(value)]


def hexes(values: list[int]) -> list[str]:
    """Field elements in their RPC hex form."""
    return [hex(v) for v in values]


def bounded(value: Any, name: str, bits: int) -> int:
    number = felt(value, name)
    if number >= 2**bits:
        raise InvalidParams(f"{name}: exceeds {bits} bits")
    return number


def field_of(data: dict[str, Any], key: str) -> Any:
    if key not in data:
        raise InvalidParams(f"missing field {key!r}")
    return data[key]


@dataclass(frozen=True)
class Transaction:
    """A v3 transaction of any type; `sender` is the account (computed for DEPLOY_ACCOUNT)."""

    type: str
    version: int
    sender: int
    nonce: int
    signature: list[int]
    resource_bounds: dict[str, tuple[int, int]]
    tip: int
    paymaster_data: list[int]
    calldata: list[int] = field(default_factory=list)
    account_deployment_data: list[int] = field(default_factory=list)
    class_hash: int = 0
    compiled_class_hash: int = 0
    salt: int = 0
    contract_class: dict[str, Any] | None = None
    hash: int = 0

    @property
    def is_query(self) -> bool:
        return self.version >= QUERY_VERSION_BASE

    @property
    def max_fee(self) -> int:
        """The most the sender can be charged: the sum of each resource's limit x max price."""
        return sum(amount * price for amount, price in self.resource_bounds.values())

    def to_rpc(self) -> dict[str, Any]:
        """The transaction as `starknet_getTransactionByHash` returns it."""
        out: dict[str, Any] = {
            "transaction_hash": hex(self.hash), "type": self.type, "version": hex(self.version),
            "nonce": hex(self.nonce), "signature": hexes(self.signature),
            "resource_bounds": {
                name: {"max_amount": hex(a), "max_price_per_unit": hex(p)}
                for name, (a, p) in self.resource_bounds.items()},
            "tip": hex(self.tip), "paymaster_data": hexes(self.paymaster_data),
            "nonce_data_availability_mode": "L1", "fee_data_availability_mode": "L1",
        }
        if self.type == "DEPLOY_ACCOUNT":
            out.update(class_hash=hex(self.class_hash), contract_address_salt=hex(self.salt),
                       constructor_calldata=hexes(self.calldata))
            return out
        out.update(sender_address=hex(self.sender),
                   account_deployment_data=hexes(self.account_deployment_data))
        if self.type == "INVOKE":
            out["calldata"] = hexes(self.calldata)
        else:
            out.update(class_hash=hex(self.class_hash),
                       compiled_class_hash=hex(self.compiled_class_hash))
        return out


def _resource_bounds(value: Any) -> dict[str, tuple[int, int]]:
    if not isinstance(value, dict):
        raise InvalidParams("resource_bounds: expected an object")
    bounds = {}
    for name in RESOURCES:
        entry = field_of(value, name)
        if not isinstance(entry, dict):
            raise InvalidParams(f"resource_bounds.{name}: expected an object")
        bounds[name] = (bounded(field_of(entry, "max_amount"), f"{name}.max_amount", 64),
                        bounded(field_of(entry, "max_price_per_unit"), f"{name}.max_price", 128))
    return bounds


def _version(value: Any) -> int:
    version = felt(value, "version")
    if version not in (3, QUERY_VERSION_BASE + 3):
        raise UnsupportedTxVersion(f"version {hex(version)}; this devnet accepts v3 only")
    return version


def parse_transaction(data: Any, chain_id: int) -> Transaction:
    """Parse a BROADCASTED_TXN object and compute its hash; InvalidParams if malformed."""
    if not isinstance(data, dict):
        raise InvalidParams("transaction: expected an object")
    tx_type = field_of(data, "type")
    if tx_type not in TX_TYPES:
        raise InvalidParams(f"type: expected one of {', '.join(TX_TYPES)}")
    if data.get("proof_facts"):
        raise InvalidParams("proof_facts: transactions with proofs are not supported")
    for mode in ("nonce_data_availability_mode", "fee_data_availability_mode"):
        if data.get(mode, "L1") != "L1":
            raise InvalidParams(f"{mode}: only L1 is supported")
    common = {
        "type": tx_type, "version": _version(field_of(data, "version")),
        "nonce": felt(field_of(data, "nonce"), "nonce"),
        "signature": felts(field_of(data, "signature"), "signature"),
        "resource_bounds": _resource_bounds(field_of(data, "resource_bounds")),
        "tip": bounded(data.get("tip", "0x0"), "tip", 64),
        "paymaster_data": felts(data.get("paymaster_data", []), "paymaster_data"),
    }
    if tx_type == "DEPLOY_ACCOUNT":
        tx = _deploy_account(data, common)
    else:
        common["sender"] = felt(field_of(data, "sender_address"), "sender_address")
        common["account_deployment_data"] = felts(
            data.get("account_deployment_data", []), "account_deployment_data")
        tx = _invoke(data, common) if tx_type == "INVOKE" else _declare(data, common)
    with stage("transaction hash"):
        return replace(tx, hash=transaction_hash(tx, chain_id))


def _invoke(data: dict[str, Any], common: dict[str, Any]) -> Transaction:
    return Transaction(**common, calldata=felts(field_of(data, "calldata"), "calldata"))


def _declare(data: dict[str, Any], common: dict[str, Any]) -> Transaction:
    contract_class = field_of(data, "contract_class")
    if not isinstance(contract_class, dict) or not isinstance(contract_class.get("abi"), str):
        raise InvalidParams("contract_class: expected a Sierra class with a string abi")
    if contract_class.get("contract_class_version") != SIERRA_CLASS_VERSION:
        raise UnsupportedContractClassVersion(
            f"contract_class_version {contract_class.get('contract_class_version')!r:.40}; "
            f"this devnet accepts {SIERRA_CLASS_VERSION}")
    try:
        class_hash = sierra_class_hash(contract_class)
    except Exception as exc:  # the schema names what is wrong
        raise InvalidParams(f"contract_class: {exc}") from None
    return Transaction(
        **common, class_hash=class_hash, contract_class=contract_class,
        compiled_class_hash=felt(field_of(data, "compiled_class_hash"), "compiled_class_hash"))


def _deploy_account(data: dict[str, Any], common: dict[str, Any]) -> Transaction:
    class_hash = felt(field_of(data, "class_hash"), "class_hash")
    salt = felt(field_of(data, "contract_address_salt"), "contract_address_salt")
    calldata = felts(field_of(data, "constructor_calldata"), "constructor_calldata")
    address = calculate_contract_address_from_hash(
        salt=salt, class_hash=class_hash, constructor_calldata=calldata, deployer_address=0)
    return Transaction(**common, sender=address, class_hash=class_hash, salt=salt,
                       calldata=calldata)


def transaction_hash(tx: Transaction, chain_id: int) -> int:
    """The Starknet v3 transaction hash (query versions hash with their own version)."""
    bounds = {RESOURCES[name]: ResourceBounds(max_amount=a, max_price_per_unit=p)
              for name, (a, p) in tx.resource_bounds.items()}
    common = {"version": tx.version, "nonce": tx.nonce, "nonce_data_availability_mode": 0,
              "fee_data_availability_mode": 0, "resource_bounds": bounds, "tip": tx.tip,
              "paymaster_data": tx.paymaster_data, "chain_id": chain_id}
    if tx.type == "INVOKE":
        return calculate_invoke_transaction_hash(
            **common, sender_address=tx.sender, calldata=tx.calldata,
            account_deployment_data=tx.account_deployment_data)
    if tx.type == "DECLARE":
        assert tx.contract_class is not None
        return calculate_declare_transaction_hash(
            **common, sender_address=tx.sender, compiled_class_hash=tx.compiled_class_hash,
            account_deployment_data=tx.account_deployment_data,
            contract_class=ContractClass.load(tx.contract_class))
    return calculate_deploy_account_transaction_hash(
        **common, contract_address=tx.sender, salt=tx.salt, class_hash=tx.class_hash,
        constructor_calldata=tx.calldata)
