"""The node's account and contract addresses as read from its config."""

from __future__ import annotations

from pathlib import Path

import pytest
from starknet_py.hash.utils import verify_message_signature
from starknet_py.net.client_models import ResourceBoundsMapping
from starknet_py.net.models.transaction import InvokeV3

from node.config import ConfigError, load_config
from node.errors import UserError
from node.keys import write_keystore
from node.wallet import Wallet, account_address, chain_id, contract_address, load_wallet
from p2p.stark import StarkKeyPair

KEY = StarkKeyPair.from_private_key(0x1234567)


def config_with(tmp_path: Path, **settings: str):
    environ = {f"ZETINA_{name.upper().replace('.', '_')}": v for name, v in settings.items()}
    return load_config(None, environ, {"node.data_dir": str(tmp_path)})


def test_chain_id_is_a_short_string_or_hex(tmp_path: Path) -> None:
    assert chain_id(config_with(tmp_path)) == 0x534E5F5345504F4C4941  # SN_SEPOLIA
    assert chain_id(config_with(tmp_path, **{"chain.chain_id": "0x1234"})) == 0x1234
    for bad in ("0xzz", "x" * 40, "0x0"):
        with pytest.raises(ConfigError, match=r"chain\.chain_id"):
            chain_id(config_with(tmp_path, **{"chain.chain_id": bad}))


def test_missing_or_malformed_addresses_name_the_setting_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"contracts\.registry is not set; run scripts/deploy"):
        contract_address(config_with(tmp_path), "registry")
    with pytest.raises(ConfigError, match="ZETINA_CHAIN_ACCOUNT"):
        account_address(config_with(tmp_path))
    with pytest.raises(ConfigError, match="not a Starknet address"):
        account_address(config_with(tmp_path, **{"chain.account": "0xnothex"}))
    config = config_with(tmp_path, **{"contracts.token": "0x49d"})
    assert contract_address(config, "token") == 0x49D


def test_wallet_reads_the_keystore_with_the_configured_password(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret\n")
    settings = {"chain.account": "0xabc", "keys.password_file": str(tmp_path / "pw")}
    with pytest.raises(UserError, match=r"no keystore .*node keys new"):
        load_wallet(config_with(tmp_path, **settings), {})
    write_keystore(tmp_path / "keystore.json", KEY, "s3cret")
    wallet = load_wallet(config_with(tmp_path, **settings), {})
    assert (wallet.address, wallet.key, wallet.chain_id) == (0xABC, KEY, 0x534E5F5345504F4C4941)
    account = wallet.account("http://127.0.0.1:1/rpc")
    assert account.address == 0xABC and account.signer.public_key == KEY.public_key
    (tmp_path / "pw").write_text("wrong")
    with pytest.raises(UserError, match="wrong password"):
        load_wallet(config_with(tmp_path, **settings), {})


def test_the_fast_signer_signs_what_starknet_py_verifies() -> None:
    account = Wallet(0xABC, KEY, 0x534E5F5345504F4C4941).account("http://127.0.0.1:1/rpc")
    transaction = InvokeV3(
        version=3, signature=[], nonce=5, resource_bounds=ResourceBoundsMapping.init_with_zeros(),
        sender_address=0xABC, calldata=[1, 2, 3], tip=0,
    )
    r, s = account.signer.sign_transaction(transaction)
    digest = transaction.calculate_hash(0x534E5F5345504F4C4941)
    assert verify_message_signature(digest, [r, s], KEY.public_key)
    assert not verify_message_signature(digest + 1, [r, s], KEY.public_key)
