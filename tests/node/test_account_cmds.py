"""`node deposit | withdraw | balance | status | events` against a real devnet and Registry.

Most commands run through `node.cli.main` in this process (the same code a user runs, without
paying Python's start-up for each); the keystore import and `events --follow` run as processes.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starknet_py.net.full_node_client import FullNodeClient

from devnet.check import FEE_TOKEN
from devnet.spawn import DevnetProcess
from node.commands.events_cmd import EVENT_TYPES
from node.store import JobStore, store_path
from p2p.messages import SignedJobHeader
from registry_contract.deploy import Deployment, deploy
from registry_contract.events import RegistryEvent
from tests.node.cli_run import Result, clean_environment, run_cli
from tests.p2p.test_codec import HEADER
from tests.registry_contract.conftest import make_account, token_balances
from tests.registry_contract.test_escrow import create_block

PASSWORD = "a long password"
WITHDRAWAL_DELAY_S = 8
TOKEN = 10**18
"""One STRK in base units (the devnet's fee token has 18 decimals)."""


@dataclasses.dataclass(frozen=True)
class Chain:
    """A devnet with the contracts deployed (minimum 0 bits) and a node config for account 1."""

    devnet: DevnetProcess
    deployment: Deployment
    config: Path
    data_dir: Path
    account: int
    other: int

    def node(self, *args: str, config: Path | None = None, data_dir: Path | None = None) -> Result:
        """Run `node ARGS --config … --data-dir …` in this process."""
        return run_cli(*args, "--config", str(config or self.config),
                       "--data-dir", str(data_dir or self.data_dir))

    def config_with(self, tmp_path: Path, **changes: str) -> Path:
        """A copy of the config with `[section] key = value` lines replaced (`chain__rpc_url`)."""
        text = self.config.read_text()
        for name, value in changes.items():
            key = name.split("__")[1]
            lines = [f'{key} = "{value}"' if line.startswith(f"{key} =") else line
                     for line in text.splitlines()]
            text = "\n".join(lines) + "\n"
        path = tmp_path / "changed.toml"
        path.write_text(text)
        return path

    def holdings(self) -> dict[str, Any]:
        shown = self.node("balance", "--json")
        assert shown.code == 0, shown.err
        return shown.json()

    def fee_of(self, transaction: str) -> int:
        client = FullNodeClient(node_url=self.devnet.url)
        receipt = asyncio.run(client.get_transaction_receipt(int(transaction, 16)))
        return receipt.actual_fee.amount


def node_process(*args: str) -> list[str]:
    return [sys.executable, "-m", "node", *args]


def process_env() -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ZETINA_")}
    return {**environ, "ZETINA_KEYSTORE_PASSWORD": PASSWORD}


@contextlib.contextmanager
def following(chain: Chain, *args: str) -> Iterator[subprocess.Popen]:
    """`node events --follow --json ARGS` as a process, killed if still running at the end."""
    follower = subprocess.Popen(
        node_process("events", "--follow", "--json", *args,
                     "--config", str(chain.config), "--data-dir", str(chain.data_dir)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=process_env())
    try:
        yield follower
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.communicate()


def node_config(
    folder: Path, devnet: DevnetProcess, deployment: Deployment, account: dict[str, str]
) -> tuple[Path, Path]:
    """(config, data dir) of a node in `folder` for the devnet `account`, key imported."""
    config = folder / "node.toml"
    config.write_text(
        f'[chain]\nrpc_url = "{devnet.url}"\n'
        f'chain_id = "{bytes.fromhex(devnet.info["chain_id"][2:]).decode()}"\n'
        f'account = "{account["address"]}"\n'
        f'[contracts]\ntoken = "{hex(deployment.token)}"\n'
        f'registry = "{hex(deployment.registry)}"\n'
        f'fact_registry = "{hex(deployment.fact_registry)}"\n'
    )
    (folder / "key").write_text(account["private_key"])
    data_dir = folder / "data"
    imported = subprocess.run(
        node_process("keys", "import", "--private-key-file", str(folder / "key"),
                     "--config", str(config), "--data-dir", str(data_dir)),
        env=process_env(), capture_output=True, text=True, timeout=60)
    assert imported.returncode == 0, imported.stderr
    return config, data_dir


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    folder = tmp_path_factory.mktemp("account-cmds")
    with DevnetProcess("--accounts", "3", "--seed", "23") as devnet:
        chain_id = int(devnet.info["chain_id"], 16)
        owner, _ = make_account(devnet.url, chain_id, devnet.info["accounts"][0])
        deployment = asyncio.run(deploy(owner, FEE_TOKEN, min_security_bits=0,
                                        withdrawal_delay=WITHDRAWAL_DELAY_S))
        mine, other = devnet.info["accounts"][1:3]
        config, data_dir = node_config(folder, devnet, deployment, mine)
        yield Chain(devnet, deployment, config, data_dir, int(mine["address"], 16),
                    int(other["address"], 16))


@pytest.fixture(autouse=True)
def keystore_password(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(monkeypatch, ZETINA_KEYSTORE_PASSWORD=PASSWORD)


def test_deposit_moves_tokens_into_the_escrow(chain: Chain) -> None:
    before = chain.holdings()
    tokens = chain.node("deposit", "1.5")
    assert tokens.code == 0, tokens.err
    assert "deposited: 1.5 STRK" in tokens.out
    assert "depositing 1.5 STRK" in tokens.err  # progress on stderr
    base_units = chain.node("deposit", "250000fri", "--json")
    assert base_units.code == 0, base_units.err
    result = base_units.json()
    assert result["deposited"] == 250000
    moved = 15 * TOKEN // 10 + 250000
    assert result["escrow"] == before["escrow"] + moved
    fees = chain.fee_of(tokens.out.split("transaction: ")[1].split()[0])
    fees += chain.fee_of(result["transaction"])
    after = chain.holdings()
    assert after["escrow"] == before["escrow"] + moved
    assert after["token_balance"] == before["token_balance"] - moved - fees


@pytest.mark.parametrize("amount", ["0", "0.000", "0fri", "-1", "abc", "1e3", "1.5fri",
                                    "1.2.3", "", " ", "0x10", "nan", "inf", "1,5"])
def test_bad_amounts_are_usage_errors_naming_the_argument(chain: Chain, amount: str) -> None:
    for command in ("deposit", "withdraw"):
        refused = chain.node(command, amount)
        assert refused.code == 2
        assert "argument AMOUNT" in refused.err


def test_amount_finer_than_the_token_is_a_usage_error(chain: Chain) -> None:
    before = chain.holdings()
    refused = chain.node("deposit", "0.0000000000000000001", "--json")
    assert refused.code == 2
    assert "AMOUNT '0.0000000000000000001'" in refused.json()["error"]
    assert "18 decimals" in refused.err
    assert chain.holdings() == before


def test_withdrawal_is_requested_then_completed_once_unlocked(chain: Chain) -> None:
    nothing = chain.node("withdraw", "--complete")
    assert nothing.code == 1
    assert "Registry: nothing pending" in nothing.err and "node withdraw AMOUNT" in nothing.err
    assert chain.node("deposit", "1").code == 0
    before = chain.holdings()

    create_block(chain.devnet.url)  # stamp the request's block with the time now
    requested = chain.node("withdraw", "0.25", "--json")
    assert requested.code == 0, requested.err
    pending = requested.json()
    assert pending["pending_withdrawal"] == TOKEN // 4
    locked = chain.node("withdraw", "--complete")
    assert locked.code == 1
    assert f"locked until {pending['unlock_at']}" in locked.err
    assert "node withdraw --complete" in locked.err
    shown = chain.holdings()
    assert shown["pending_withdrawal"] == TOKEN // 4
    assert shown["available"] == before["available"] - TOKEN // 4
    assert shown["unlock_at"] == pending["unlock_at"]

    unlock_at = calendar.timegm(time.strptime(pending["unlock_at"], "%Y-%m-%dT%H:%M:%SZ"))
    time.sleep(max(0.0, unlock_at + 1 - time.time()))
    create_block(chain.devnet.url)
    completed = chain.node("withdraw", "--complete")
    assert completed.code == 0, completed.err
    assert "withdrawn: 0.25 STRK" in completed.out
    after = chain.holdings()
    assert after["escrow"] == before["escrow"] - TOKEN // 4
    assert (after["pending_withdrawal"], after["unlock_at"]) == (0, None)


def test_withdrawal_above_the_available_escrow_shows_the_refusal(chain: Chain) -> None:
    before = chain.holdings()
    refused = chain.node("withdraw", "1000000")
    assert refused.code == 1
    assert "the contract refused: Registry: amount over available" in refused.err
    assert "node balance" in refused.err
    assert chain.holdings() == before


def test_deposit_above_the_token_balance_shows_the_refusal(chain: Chain) -> None:
    before = chain.holdings()
    refused = chain.node("deposit", "1000000000")
    assert refused.code == 1
    assert "ERC20: insufficient balance" in refused.err
    assert chain.holdings() == before


def test_balance_of_another_account_in_text_and_json(chain: Chain) -> None:
    other = hex(chain.other)
    [tokens] = asyncio.run(token_balances(make_account(
        chain.devnet.url, int(chain.devnet.info["chain_id"], 16),
        chain.devnet.info["accounts"][2])[0], [chain.other]))
    shown = chain.node("balance", "--account", other, "--json")
    assert shown.code == 0, shown.err
    assert shown.json() == {"account": other, "token_balance": tokens, "escrow": 0,
                            "available": 0, "pending_withdrawal": 0, "unlock_at": None}
    text = chain.node("balance", "--account", other)
    assert f"account: {other}" in text.out and "escrow: 0 STRK" in text.out
    assert chain.node("balance", "--account", "0xnothex").code == 2


@pytest.fixture(scope="module")
def stored_jobs(chain: Chain) -> None:
    """Two executor jobs and a delegator job in the node's store."""
    with JobStore.open(store_path(chain.data_dir)) as store:
        for nonce, role in ((1, "executor"), (2, "executor"), (3, "delegator")):
            header = dataclasses.replace(HEADER, nonce=nonce)
            store.record_job(SignedJobHeader(header, (11, 22)), role)


@pytest.mark.usefixtures("stored_jobs")
def test_status_shows_chain_registry_balances_and_jobs(chain: Chain) -> None:
    shown = chain.node("status", "--json")
    assert shown.code == 0, shown.err
    status = shown.json()
    assert status["chain"] == "reachable" and status["chain_id"] == "SN_SEPOLIA"
    assert status["rpc_url"] == chain.devnet.url
    assert status["block_number"] > 0
    assert (status["min_security_bits"], status["withdrawal_delay"]) == (0, WITHDRAWAL_DELAY_S)
    assert int(status["fact_registry"], 16) == chain.deployment.fact_registry
    assert int(status["account"], 16) == chain.account
    assert status["escrow"] >= status["available"] + status["pending_withdrawal"]
    assert status["jobs"] == {"delegator": {"published": 1}, "executor": {"published": 2}}
    text = chain.node("status")
    assert "jobs (executor): 2 published" in text.out
    assert "min_security_bits: 0" in text.out and "chain: reachable" in text.out


@pytest.mark.usefixtures("stored_jobs")
def test_status_without_a_reachable_chain_prints_the_local_part(
    chain: Chain, tmp_path: Path
) -> None:
    config = chain.config_with(tmp_path, chain__rpc_url="http://127.0.0.1:9/rpc")
    shown = chain.node("status", "--json", config=config)
    assert shown.code == 1
    status = shown.json()
    assert status["chain"] == "unreachable" and status["rpc_url"] == "http://127.0.0.1:9/rpc"
    assert status["jobs"]["executor"] == {"published": 2}
    assert "cannot reach the Starknet node at http://127.0.0.1:9/rpc" in status["error"]
    text = chain.node("status", config=config)
    assert text.code == 1 and "chain: unreachable" in text.out and "fix chain.rpc_url" in text.err


def test_unreachable_rpc_url_is_a_clear_error(chain: Chain, tmp_path: Path) -> None:
    config = chain.config_with(tmp_path, chain__rpc_url="http://127.0.0.1:9/rpc")
    for args in (("balance",), ("deposit", "1"), ("withdraw", "--complete"), ("events",)):
        refused = chain.node(*args, config=config)
        assert refused.code == 1, args
        assert "cannot reach the Starknet node at http://127.0.0.1:9/rpc" in refused.err


def test_wrong_chain_id_names_both_chains(chain: Chain, tmp_path: Path) -> None:
    config = chain.config_with(tmp_path, chain__chain_id="SN_MAIN")
    before = chain.holdings()
    for args in (("balance",), ("deposit", "1"), ("events",), ("status",)):
        refused = chain.node(*args, config=config)
        assert refused.code == 2, args
        assert "serves chain SN_SEPOLIA, but chain.chain_id is SN_MAIN" in refused.err
    assert chain.holdings() == before


def test_config_without_contracts_says_how_to_deploy(chain: Chain, tmp_path: Path) -> None:
    config = chain.config_with(tmp_path, contracts__registry="")
    for args in (("balance",), ("deposit", "1"), ("withdraw", "1"), ("events",)):
        refused = chain.node(*args, config=config)
        assert refused.code == 2, args
        assert "contracts.registry is not set; run scripts/deploy-registry" in refused.err
    shown = chain.node("status", "--json", config=config)
    assert shown.code == 0 and shown.json()["registry"].startswith("not set")


def test_events_are_printed_and_resumed_without_repeat_or_skip(chain: Chain) -> None:
    everything = chain.node("events", "--json")
    assert everything.code == 0, everything.err
    events = everything.json_lines()
    first = chain.node("events", "--json", "--resume", "mine")
    assert first.json_lines() == events
    assert (chain.data_dir / "cursors" / "mine.json").exists()

    assert chain.node("deposit", "2").code == 0
    second = chain.node("events", "--json", "--resume", "mine")
    assert second.json_lines() == [{"type": "Deposited", "account": hex(chain.account),
                                    "amount": 2 * TOKEN}]
    assert chain.node("events", "--json").json_lines() == events + second.json_lines()
    assert chain.node("events", "--resume", "mine").out == ""


def test_events_filters_and_text_lines(chain: Chain) -> None:
    assert chain.node("deposit", "0.75").code == 0
    events = chain.node("events", "--json").json_lines()
    deposits = chain.node("events", "--json", "--type", "Deposited").json_lines()
    assert deposits == [e for e in events if e["type"] == "Deposited"]
    assert deposits[-1] == {"type": "Deposited", "account": hex(chain.account),
                            "amount": 3 * TOKEN // 4}
    text = chain.node("events", "--type", "Deposited").out.splitlines()
    assert text[-1] == f"Deposited account={hex(chain.account)} amount=0.75 STRK"
    assert len(text) == len(deposits)
    assert chain.node("events", "--account", hex(chain.other)).out == ""
    mine = chain.node("events", "--json", "--account", hex(chain.account)).json_lines()
    assert mine == events
    late = chain.node("events", "--json", "--from-block", "10000")
    assert late.code == 0 and late.out == ""


@pytest.mark.parametrize(
    "args",
    [("--resume", "../escape"), ("--resume", ""), ("--from-block", "-1"),
     ("--from-block", "x"), ("--type", "Minted"), ("--account", "12")],
)
def test_bad_event_options_are_usage_errors(chain: Chain, args: tuple[str, ...]) -> None:
    assert chain.node("events", *args).code == 2


def test_damaged_cursor_file_is_a_clear_error(chain: Chain) -> None:
    path = chain.data_dir / "cursors" / "damaged.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    for text in ("{not json", '{"block_number": -3}', '{"colour": 1}', '[1, 2]'):
        path.write_text(text)
        refused = chain.node("events", "--resume", "damaged")
        assert refused.code == 1, text
        assert f"the cursor file {path} is damaged" in refused.err
        assert path.read_text() == text


def test_unusable_cursor_paths_are_clear_errors(chain: Chain, tmp_path: Path) -> None:
    assert chain.node("deposit", "0.03125").code == 0  # at least one event to print
    (tmp_path / "cursors").mkdir()
    (tmp_path / "cursors" / "blocked.json.partial").mkdir()  # where the cursor is written first
    refused = chain.node("events", "--resume", "blocked", data_dir=tmp_path)
    assert refused.code == 1
    assert f"cannot save the cursor in {tmp_path / 'cursors' / 'blocked.json'}" in refused.err
    assert len(refused.out.splitlines()) == 1  # the event printed before its cursor failed

    (tmp_path / "cursors" / "nested.json").mkdir()
    unreadable = chain.node("events", "--resume", "nested", data_dir=tmp_path)
    assert unreadable.code == 1 and unreadable.out == ""
    assert f"cannot read the cursor in {tmp_path / 'cursors' / 'nested.json'}" in unreadable.err


def test_events_follow_prints_new_events_and_stops_cleanly_on_ctrl_c(chain: Chain) -> None:
    known = len(chain.node("events", "--json").json_lines())
    with following(chain, "--resume", "follower") as follower:
        seen = [json.loads(follower.stdout.readline()) for _ in range(known)]
        assert chain.node("deposit", "0.125").code == 0
        seen.append(json.loads(follower.stdout.readline()))
        assert seen[-1] == {"type": "Deposited", "account": hex(chain.account),
                            "amount": TOKEN // 8}
        follower.send_signal(signal.SIGINT)
        out, err = follower.communicate(timeout=30)
    assert follower.returncode == 0, err
    assert out == ""
    assert f"{known + 1} events printed" in err
    assert seen == chain.node("events", "--json").json_lines()
    assert chain.node("events", "--resume", "follower").out == ""


def test_event_type_choices_are_the_registry_events() -> None:
    assert set(EVENT_TYPES) == {kind.__name__ for kind in typing.get_args(RegistryEvent)}


def test_events_follow_stops_quietly_when_its_reader_goes_away(chain: Chain) -> None:
    """`node events --follow | head -1`: exit 0, and the unprinted event is not skipped."""
    block = asyncio.run(FullNodeClient(node_url=chain.devnet.url).get_block_number()) + 1
    with following(chain, "--resume", "reader", "--from-block", str(block)) as follower:
        follower.stdout.close()  # the reader is gone before the first event
        assert chain.node("deposit", "0.0625").code == 0
        _, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    assert "Traceback" not in err and "0 events printed" in err
    resumed = chain.node("events", "--json", "--resume", "reader", "--from-block", str(block))
    assert resumed.json_lines() == [{"type": "Deposited", "account": hex(chain.account),
                                     "amount": TOKEN // 16}]
