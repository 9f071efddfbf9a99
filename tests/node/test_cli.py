"""The `node` command as users run it: a real process, text or --json output, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

NODE = [sys.executable, "-m", "node"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ZETINA_")}
    environ.update(env or {})
    return subprocess.run(
        [*NODE, *args],
        capture_output=True,
        text=True,
        env=environ,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "password"
    path.write_text("a long password\n")
    return path


def test_keys_new_then_show_agree(tmp_path: Path, password_file: Path) -> None:
    data = str(tmp_path / "data")
    created = run(
        "keys", "new", "--data-dir", data, "--password-file", str(password_file), "--json"
    )
    assert created.returncode == 0, created.stderr
    shown = run("keys", "show", "--data-dir", data, "--password-file", str(password_file), "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(created.stdout) == json.loads(shown.stdout)
    assert json.loads(shown.stdout)["peer_id"].startswith("12D3KooW")


def test_keys_new_refuses_to_overwrite(tmp_path: Path, password_file: Path) -> None:
    args = ("keys", "new", "--data-dir", str(tmp_path), "--password-file", str(password_file))
    assert run(*args).returncode == 0
    before = (tmp_path / "keystore.json").read_bytes()
    again = run(*args, "--json")
    assert again.returncode == 1
    assert "--force" in json.loads(again.stdout)["error"]
    assert (tmp_path / "keystore.json").read_bytes() == before


def test_import_warns_loudly_about_a_plain_key(tmp_path: Path) -> None:
    result = run(
        "keys",
        "import",
        "--data-dir",
        str(tmp_path),
        "--private-key",
        "0x1234",
        "--json",
        env={"ZETINA_KEYSTORE_PASSWORD": "pw"},
    )
    assert result.returncode == 0, result.stderr
    assert "WARNING" in result.stderr and "shell history" in result.stderr
    public_key = json.loads(result.stdout)["public_key"]
    from p2p.stark import public_key_of

    assert int(public_key, 16) == public_key_of(0x1234)


def test_import_from_a_file_is_quiet(tmp_path: Path) -> None:
    key_file = tmp_path / "key.hex"
    key_file.write_text("0x1234\n")
    result = run(
        "keys",
        "import",
        "--data-dir",
        str(tmp_path),
        "--private-key-file",
        str(key_file),
        env={"ZETINA_KEYSTORE_PASSWORD": "pw"},
    )
    assert result.returncode == 0 and "WARNING" not in result.stderr


@pytest.mark.parametrize("key", ["0x0", "nothex", hex(2**252)])
def test_import_refuses_a_bad_key(tmp_path: Path, key: str) -> None:
    result = run(
        "keys",
        "import",
        "--data-dir",
        str(tmp_path),
        "--private-key",
        key,
        env={"ZETINA_KEYSTORE_PASSWORD": "pw"},
    )
    assert result.returncode == 1
    assert "not a Stark private key" in result.stderr
    assert not (tmp_path / "keystore.json").exists()


def test_no_password_source_says_how_to_give_one(tmp_path: Path) -> None:
    result = run("keys", "new", "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert "--password-file" in result.stderr and "ZETINA_KEYSTORE_PASSWORD" in result.stderr
    assert not (tmp_path / "keystore.json").exists()


def test_config_show_reports_sources(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[chain]\nrpc_url = "http://127.0.0.1:9/rpc"\n')
    result = run(
        "config", "show", "--config", str(config), "--json", env={"ZETINA_DEVNET_PORT": "7001"}
    )
    settings = json.loads(result.stdout)["settings"]
    assert settings["chain.rpc_url"] == {
        "value": "http://127.0.0.1:9/rpc",
        "source": str(config),
        "env": "ZETINA_CHAIN_RPC_URL",
    }
    assert settings["devnet.port"]["value"] == 7001
    assert settings["devnet.port"]["source"] == "env ZETINA_DEVNET_PORT"


def test_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[chain]\nrpcurl = 1\n")
    result = run("config", "show", "--config", str(config), "--json")
    assert result.returncode == 2
    assert "rpcurl" in json.loads(result.stdout)["error"]


def test_version_as_json() -> None:
    result = run("version", "--json")
    assert result.returncode == 0
    assert json.loads(result.stdout)["python"].startswith("3.10")


def test_jobs_lists_the_store_with_history(tmp_path: Path) -> None:
    from node.store import JobStore, store_path
    from p2p.messages import SignedJobHeader
    from p2p.signing import job_hash
    from tests.p2p.test_codec import HEADER

    signed = SignedJobHeader(HEADER, (1, 2))
    with JobStore.open(store_path(tmp_path)) as store:
        store.record_job(signed, "executor")
        store.transition(job_hash(HEADER), "bidding", "bid sent")
    listed = json.loads(run("jobs", "--data-dir", str(tmp_path), "--history", "--json").stdout)
    (job,) = listed["jobs"]
    assert job["job_hash"] == hex(job_hash(HEADER)) and job["state"] == "bidding"
    assert [step["to"] for step in job["history"]] == ["published", "bidding"]
    filtered = run("jobs", "--data-dir", str(tmp_path), "--state", "paid", "--json")
    assert json.loads(filtered.stdout)["jobs"] == []


def test_jobs_without_a_store_is_empty_and_creates_nothing(tmp_path: Path) -> None:
    result = run("jobs", "--data-dir", str(tmp_path), "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["jobs"] == []
    assert not any(tmp_path.iterdir())
