"""The committed contract classes: their ABIs, and declaring them on a chain once."""

from __future__ import annotations

import json
import logging
from functools import cache
from typing import Any

from starknet_py.common import create_casm_class
from starknet_py.hash.casm_class_hash import compute_casm_class_hash
from starknet_py.net.account.account import Account
from starknet_py.net.client_errors import ClientError

from devnet.classes import rpc_sierra, sierra_class_hash
from devnet.toolchain import artifact_paths
from registry_contract import TX_POLL_INTERVAL_S
from registry_contract.build import BUILD_DIR

CLASS_HASH_NOT_FOUND = 28

logger = logging.getLogger(__name__)


@cache
def abi(name: str) -> list[dict[str, Any]]:
    """The ABI of a committed contract (`registry` or `fact_registry`)."""
    sierra_path, _ = artifact_paths(name, BUILD_DIR)
    return json.loads(sierra_path.read_text())["abi"]


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
    await account.client.wait_for_tx(result.transaction_hash, check_interval=TX_POLL_INTERVAL_S)
    logger.info("declared class", extra={"contract": name, "class_hash": hex(result.class_hash)})
    return result.class_hash
