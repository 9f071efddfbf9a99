"""Layered configuration: defaults < TOML < environment < flags, strict about names and types."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.config import BOUNDS, SETTINGS, Config, ConfigError, env_name, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "zetina.toml"
    path.write_text(text)
    return path


def test_defaults_apply_without_any_source() -> None:
    config = load_config(None, {}, {})
    assert config.chain.rpc_url == "http://127.0.0.1:5050/rpc"
    assert config.p2p.listen == ["/ip4/127.0.0.1/tcp/0"]
    assert config.sources == {}


def test_each_layer_overrides_the_one_below(tmp_path: Path) -> None:
    path = write(
        tmp_path, '[chain]\nrpc_url = "http://file"\nchain_id = "SN_FILE"\n[devnet]\nport = 6000\n'
    )
    environ = {"ZETINA_CHAIN_CHAIN_ID": "SN_ENV", "ZETINA_DEVNET_PORT": "7000"}
    config = load_config(path, environ, {"devnet.port": 8000})
    assert config.chain.rpc_url == "http://file"
    assert config.chain.chain_id == "SN_ENV"
    assert config.devnet.port == 8000
    assert config.sources == {
        "chain.rpc_url": str(path),
        "chain.chain_id": "env ZETINA_CHAIN_CHAIN_ID",
        "devnet.port": "flag",
    }


def test_flags_left_unset_do_not_override(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[devnet]\nport = 6000\n"), {}, {"devnet.port": None})
    assert config.devnet.port == 6000


def test_config_file_from_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "[devnet]\naccounts = 5\n")
    assert load_config(None, {"ZETINA_CONFIG": str(path)}, {}).devnet.accounts == 5


def test_environment_values_are_parsed_by_type() -> None:
    environ = {
        "ZETINA_P2P_BOOTSTRAP": "/ip4/127.0.0.1/tcp/1, /ip4/127.0.0.1/tcp/2",
        "ZETINA_DEVNET_BLOCK_TIME": "2.5",
    }
    config = load_config(None, environ, {})
    assert config.p2p.bootstrap == ["/ip4/127.0.0.1/tcp/1", "/ip4/127.0.0.1/tcp/2"]
    assert config.devnet.block_time == 2.5


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[chain]\nrpcurl = 'x'\n", "'rpcurl' in [chain]"),
        ("[chian]\nrpc_url = 'x'\n", "[chian]"),
        ("[devnet]\nport = 'high'\n", "devnet.port"),
        ("[p2p]\nlisten = '/ip4/1.2.3.4/tcp/1'\n", "p2p.listen"),
        ("[devnet]\nport = true\n", "devnet.port"),
        ("[chain\n", "cannot read config file"),
    ],
)
def test_bad_file_is_refused_naming_the_setting(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace("[", r"\[").replace("]", r"\]")):
        load_config(write(tmp_path, text), {}, {})


def test_bad_environment_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="ZETINA_DEVNET_PORT"):
        load_config(None, {"ZETINA_DEVNET_PORT": "many"}, {})
    with pytest.raises(ConfigError, match="unknown environment variable ZETINA_CHAIN_RPCURL"):
        load_config(None, {"ZETINA_CHAIN_RPCURL": "x"}, {})


def test_missing_file_says_what_to_check(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", {}, {})


def test_the_repository_devnet_toml_loads() -> None:
    config = load_config(Path(__file__).parents[2] / "devnet.toml", {}, {})
    assert config.chain.rpc_url.startswith("http://127.0.0.1:")


def test_env_names() -> None:
    assert env_name("chain.rpc_url") == "ZETINA_CHAIN_RPC_URL"


@pytest.mark.parametrize(
    ("variable", "text", "advice"),
    [
        ("ZETINA_EXECUTOR_MAX_JOBS", "0", "a value from 1 to 1024"),
        ("ZETINA_EXECUTOR_PRICE_RATIO", "1.5", "a value from 0 to 1"),
        ("ZETINA_EXECUTOR_MIN_REWARD", "-1", "at least 0"),
        ("ZETINA_DELEGATOR_BID_WINDOW", "-1", "a value from 0 to"),
        ("ZETINA_DELEGATOR_DEADLINE", "nan", "a value from 1 to"),
        ("ZETINA_DELEGATOR_ASSIGNMENT_WINDOW", "inf", "a value from 1 to"),
        ("ZETINA_CHAIN_POLL_INTERVAL", "0", "a value from 0.01 to 3600"),
        ("ZETINA_NODE_STATUS_PORT", "65536", "a value from 0 to 65535"),
    ],
)
def test_numbers_out_of_range_are_refused_naming_the_range(
    variable: str, text: str, advice: str
) -> None:
    with pytest.raises(ConfigError, match=f"from env {variable}: .* is out of range; give "
                                          f"{advice}"):
        load_config(None, {variable: text}, {})


def test_a_file_value_out_of_range_is_refused_and_bounds_name_real_settings(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError, match=r"setting executor.max_steps from .*: 0 is out of"):
        load_config(write(tmp_path, "[executor]\nmax_steps = 0\n"), {}, {})
    assert set(BOUNDS) <= set(SETTINGS)
    assert all(type(getattr(Config(), section).__dict__[key]) in (int, float)
               for section, key in (name.split(".") for name in BOUNDS))
    assert all(low <= Config().get(name) <= high for name, (low, high) in BOUNDS.items())
