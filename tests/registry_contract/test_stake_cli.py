"""`node stake | unstake | report-cheat` against the package's devnet, as the world's `other`
account (its key imported into a keystore like a user's)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from registry_contract.client import Refusal
from tests.node.test_account_cmds import PASSWORD, Chain, node_config
from tests.registry_contract.conftest import World
from tests.registry_contract.streams import Stream, make_stream, staked

MILLI = 10**15
"""0.001 STRK in base units."""


@pytest.fixture(scope="module")
def chain(world: World, tmp_path_factory: pytest.TempPathFactory) -> Chain:
    """A node config and keystore for the world's `other` account."""
    folder = tmp_path_factory.mktemp("stake-cli")
    info = world.devnet.info["accounts"][2]
    assert int(info["address"], 16) == world.other.address
    config, data_dir = node_config(folder, world.devnet, world.deployment, info)
    return Chain(world.devnet, world.deployment, config, data_dir, world.other.address,
                 world.executor.address)


@pytest.fixture(autouse=True)
def keystore_password(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("ZETINA_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("ZETINA_KEYSTORE_PASSWORD", PASSWORD)


@pytest.fixture(scope="module")
def stream(world: World) -> Stream:
    return make_stream(world)


def test_stake_then_unstake_all_of_it(world: World, chain: Chain) -> None:
    registry = world.other.registry
    before = asyncio.run(registry.stake_of())
    staked_now = chain.node("stake", "0.002", "--json")
    assert staked_now.code == 0, staked_now.err
    assert staked_now.json()["staked"] == 2 * MILLI
    assert staked_now.json()["stake"] == before + 2 * MILLI
    assert "staking 0.002 STRK" in staked_now.err  # progress on stderr

    part = chain.node("unstake", "0.001")
    assert part.code == 0, part.err
    assert "complete_with: node unstake --complete" in part.out
    pending = asyncio.run(registry.pending_unstake()).amount
    everything = chain.node("unstake", "--json")
    assert everything.code == 0, everything.err
    assert everything.json()["pending_unstake"] == before + 2 * MILLI
    assert asyncio.run(registry.pending_unstake()).amount == before + 2 * MILLI > pending

    nothing_left = chain.node("unstake")
    assert nothing_left.code == 1
    assert "nothing left to unstake" in nothing_left.err
    locked = chain.node("unstake", "--complete")
    assert locked.code == 1
    assert "is locked until" in locked.err
    assert asyncio.run(registry.stake_of()) == before + 2 * MILLI


@pytest.mark.parametrize("amount", ["0", "-1", "abc", "1.5fri", ""])
def test_bad_stake_amounts_are_usage_errors(chain: Chain, amount: str) -> None:
    for command in ("stake", "unstake"):
        refused = chain.node(command, amount)
        assert refused.code == 2
        assert "argument AMOUNT" in refused.err


def test_report_cheat_slashes_and_refuses_a_replay(
    world: World, chain: Chain, stream: Stream, tmp_path: Path
) -> None:
    stake = staked(world)
    report = tmp_path / "cheat.bin"
    contradiction = stream.contradiction(stream.lie(), stream.reply((3, 4), (9, 16)))
    report.write_bytes(contradiction.encode())
    sent = chain.node("report-cheat", str(report), "--json")
    assert sent.code == 0, sent.err
    result = sent.json()
    assert result["executor"] == hex(world.executor.address)
    assert result["slashed"] == stake and result["reporter_share"] == stake // 2
    assert asyncio.run(world.executor.registry.stake_of()) == 0
    shown = chain.node("events", "--type", "CheatReported", "--account", hex(chain.account),
                       "--json")
    assert shown.code == 0, shown.err
    assert {"type": "CheatReported", "job_hash": result["job_hash"],
            "executor": result["executor"], "reporter": hex(chain.account),
            "slashed": stake} in shown.json_lines()

    again = chain.node("report-cheat", str(report))
    assert again.code == 1
    assert f"the contract refused: {Refusal.ALREADY_REPORTED.value}" in again.err


def test_report_cheat_refused_by_the_contract_costs_nothing(
    world: World, chain: Chain, stream: Stream, tmp_path: Path
) -> None:
    """The fee is estimated first: a refused report is never sent."""
    stake = staked(world)
    report = tmp_path / "agreeing.bin"
    honest = stream.reply((3, 4), (9, 16))
    report.write_bytes(stream.contradiction(honest, stream.reply((3, 4), (9, 16))).encode())
    before = chain.holdings()
    refused = chain.node("report-cheat", str(report))
    assert refused.code == 1
    assert f"the contract refused: {Refusal.OUTPUTS_EQUAL.value}" in refused.err
    assert chain.holdings()["token_balance"] == before["token_balance"]
    assert asyncio.run(world.executor.registry.stake_of()) == stake


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "cannot read the cheat report"),
        (b"", "is not a cheat report"),
        (b"\x93not msgpack", "is not a cheat report"),
        (b"\x81\xa4type\xa3bid", "is not a cheat report"),
    ],
)
def test_bad_report_files_are_refused_before_sending(
    world: World, chain: Chain, tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "report.bin"
    if content is not None:
        path.write_bytes(content)
    stake = asyncio.run(world.executor.registry.stake_of())
    refused = chain.node("report-cheat", str(path))
    assert refused.code == 1
    assert message in refused.err and str(path) in refused.err
    assert asyncio.run(world.executor.registry.stake_of()) == stake


def test_stake_refusal_is_the_contract_message(chain: Chain) -> None:
    refused = chain.node("unstake", "1000000")
    assert refused.code == 1
    assert f"the contract refused: {Refusal.AMOUNT_OVER_STAKE.value}" in refused.err
