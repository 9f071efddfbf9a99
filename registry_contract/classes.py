"""The committed contract classes: their ABIs and calldata, and declaring them on a chain once.

starknet-py's `Contract` parses a whole ABI each time one is made (seconds for the Registry's), so
the ABIs here are parsed once per process and turn arguments into calls and results into values.
"""

from __future__ import annotations

import json
import logging
from functools import cache
from typing import Any

from starknet_py.abi.v2.parser import AbiParser
from starknet_py.common import create_casm_class
from starknet_py.hash.casm_class_hash import compute_casm_class_hash
from starknet_py.hash.selector import get_selector_from_name
from starknet_py.net.account.account import Account
from starknet_py.net.client import Client
from starknet_py.net.client_errors import ClientError
from starknet_py.net.client_models import Call
from starknet_py.serialization.factory import serializer_for_function_v1

from devnet.classes import rpc_sierra, sierra_class_hash
from devnet.toolchain import artifact_paths
from registry_contract import TX_POLL_INTERVAL_S, TX_WAIT_RETRIES
from registry_contract.build import BUILD_DIR

CLASS_HASH_NOT_FOUND = 28

logger = logging.getLogger(__name__)


@cache
def abi(name: str) -> list[dict[str, Any]]:
    """The ABI of a committed contract (`registry` or `fact_registry`)."""
    sierra_path, _ = artifact_paths(name, BUILD_DIR)
    return json.loads(sierra_path.read_text())["abi"]


class ContractAbi:
    """A contract's external functions: calls from Python arguments, values from results."""

    def __init__(self, name: str) -> None:
        parsed = AbiParser(abi(name)).parse()
        functions = dict(parsed.functions)
        for interface in parsed.interfaces.values():
            functions.update(interface.items)
        self._serializers = {fn_name: serializer_for_function_v1(function)
                             for fn_name, function in functions.items()}

    def call(self, address: int, function: str, *args: Any) -> Call:
        """The call of `function` on the contract at `address` with `args` (serialized)."""
        calldata = self._serializers[function].serialize(*args)
        return Call(to_addr=address, selector=get_selector_from_name(function), calldata=calldata)

    def result(self, function: str, felts: list[int]) -> Any:
        """The value `function` returned: its only output, or a tuple of several."""
        values = tuple(self._serializers[function].deserialize(felts))
        return values[0] if len(values) == 1 else values

    async def view(self, client: Client, address: int, function: str, *args: Any) -> Any:
        """Call a view function of the contract at `address`; return its value."""
        felts = await client.call_contract(self.call(address, function, *args))
        return self.result(function, felts)


@cache
def contract_abi(name: str) -> ContractAbi:
    """The parsed ABI of a committed contract, parsed once."""
    return ContractAbi(name)


def class_hash(name: str) -> int:
    """The class hash the committed Sierra artifact declares as."""
    sierra_path, _ = artifact_paths(name, BUILD_DIR)
    return sierra_class_hash(rpc_sierra(json.loads(sierra_path.read_text())))


async def ensure_declared(account: Account, name: str) -> int:
    """Declare a committed class unless the chain knows it already; return its class hash."""
    expected = class_hash(name)
    try:
        await account.client.get_class_by_hash(expected)
        return expected
    except ClientError as error:
        if error.code != CLASS_HASH_NOT_FOUND:
            raise
    sierra_path, casm_path = artifact_paths(name, BUILD_DIR)
    casm_hash = compute_casm_class_hash(create_casm_class(casm_path.read_text()))
    declare = await account.sign_declare_v3(sierra_path.read_text(), casm_hash,
                                            auto_estimate=True)
    result = await account.client.declare(declare)
    await account.client.wait_for_tx(result.transaction_hash, check_interval=TX_POLL_INTERVAL_S,
                                     retries=TX_WAIT_RETRIES)
    logger.info("declared class", extra={"contract": name, "class_hash": hex(result.class_hash)})
    return result.class_hash
