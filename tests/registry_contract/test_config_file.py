"""Writing contract addresses into a config's [contracts] table."""

from pathlib import Path

import pytest
import tomli

from node.config import load_config
from registry_contract.config_file import ConfigFileError, write_contract_addresses

REPO = Path(__file__).resolve().parents[2]
ADDRESSES = {"token": 0x4718, "registry": 0xABC, "fact_registry": 0xDEF}


def test_devnet_toml_keeps_its_comments_and_loads_as_a_config(tmp_path: Path) -> None:
    config = tmp_path / "devnet.toml"
    original = (REPO / "devnet.toml").read_text()
    config.write_text(original)
    write_contract_addresses(config, ADDRESSES)
    text = config.read_text()
    assert [line for line in text.splitlines() if line.startswith("#")] == [
        line for line in original.splitlines() if line.startswith("#")
    ]
    loaded = load_config(config, environ={})
    assert (loaded.contracts.token, loaded.contracts.registry, loaded.contracts.fact_registry) == (
        "0x4718",
        "0xabc",
        "0xdef",
    )
    assert loaded.devnet.port == 5050


def test_missing_table_and_keys_are_added(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[chain]\nrpc_url = "http://127.0.0.1:1/rpc"\n')
    write_contract_addresses(config, {"registry": 1})
    write_contract_addresses(config, {"token": 2})
    assert tomli.loads(config.read_text()) == {
        "chain": {"rpc_url": "http://127.0.0.1:1/rpc"},
        "contracts": {"registry": "0x1", "token": "0x2"},
    }


def test_a_table_after_contracts_is_left_alone(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[contracts]\ntoken = ""\n\n[keys]\nregistry = "keep"\n')
    write_contract_addresses(config, {"registry": 5})
    assert tomli.loads(config.read_text()) == {
        "contracts": {"token": "", "registry": "0x5"},
        "keys": {"registry": "keep"},
    }


@pytest.mark.parametrize(
    "text, addresses, message",
    [
        ("[contracts\n", ADDRESSES, "not valid TOML"),
        ('contracts = { token = "" }\n', ADDRESSES, "cannot edit"),
        ('[contracts]\n"token" = ""\n', ADDRESSES, "cannot edit"),
        ("", {"wallet": 1}, "unknown contract keys"),
    ],
)
def test_bad_config_is_refused_and_left_unchanged(
    tmp_path: Path, text: str, addresses: dict[str, int], message: str
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(text)
    with pytest.raises(ConfigFileError, match=message):
        write_contract_addresses(config, addresses)
    assert config.read_text() == text


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="cannot read config"):
        write_contract_addresses(tmp_path / "absent.toml", ADDRESSES)
