"""The deploy script on a devnet, and the Registry event stream across a devnet restart."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
import tomli
from starknet_py.net.client import Client
from starknet_py.net.full_node_client import FullNodeClient

from devnet.check import FEE_TOKEN
from devnet.spawn import DevnetProcess
from node.keys import write_keystore
from p2p.stark import StarkKeyPair
from registry_contract.client import FactRegistryClient, RegistryClient
from registry_contract.deploy import Deployment
from registry_contract.events import Deposited, EventCursor, InvalidCursor, registry_events
from tests.registry_contract.conftest import FIXED_BOUNDS, make_account

REPO = Path(__file__).resolve().parents[2]
SCRIPT_TIMEOUT_S = 300
STREAM_TIMEOUT_S = 90
POLL_S = 0.2


class RestartableDevnet:
    """A devnet that dumps its state on stop and comes back on the same port from the dump."""

    def __init__(self, dump_path: Path) -> None:
        self.args = ("--accounts", "2", "--seed", "5", "--dump-path", str(dump_path))
        self.process = DevnetProcess(*self.args)
        self.url = self.process.url
        self.info = self.process.info

    def restart(self) -> None:
        self.process.stop()
        port = str(urlparse(self.url).port)
        self.process = DevnetProcess(*self.args, "--port", port)
        assert self.process.url == self.url


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestartableDevnet]:
    chain = RestartableDevnet(tmp_path_factory.mktemp("registry-devnet") / "dump.json")
    yield chain
    chain.process.stop()


def run_deploy(config: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "registry_contract.deploy",
            "--config",
            str(config),
            "--rpc-url",
            url,
            "--json",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_S,
        cwd=REPO,
    )


@pytest.fixture(scope="module")
def keystore(devnet: RestartableDevnet, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Options naming the first account and its key in a keystore, as on Sepolia."""
    folder = tmp_path_factory.mktemp("keys")
    account = devnet.info["accounts"][0]
    key = StarkKeyPair.from_private_key(int(account["private_key"], 16))
    write_keystore(folder / "keystore.json", key, "correct horse")
    (folder / "password").write_text("correct horse\n")
    return [
        "--account",
        account["address"],
        "--keystore",
        str(folder / "keystore.json"),
        "--password-file",
        str(folder / "password"),
    ]


@pytest.fixture(scope="module")
def deployed(
    devnet: RestartableDevnet, keystore: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Deployment:
    config = tmp_path_factory.mktemp("config") / "devnet.toml"
    config.write_text((REPO / "devnet.toml").read_text())
    done = run_deploy(
        config, devnet.url, *keystore, "--withdrawal-delay", "60", "--min-security-bits", "80"
    )
    assert done.returncode == 0, done.stderr
    printed = {key: int(value, 16) for key, value in json.loads(done.stdout).items()}
    written = tomli.loads(config.read_text())["contracts"]
    assert {key: int(value, 16) for key, value in written.items()} == printed
    return Deployment(**printed)


def test_deploy_script_deploys_both_contracts(
    devnet: RestartableDevnet, deployed: Deployment
) -> None:
    chain_id = int(devnet.info["chain_id"], 16)
    account, _ = make_account(devnet.url, chain_id, devnet.info["accounts"][0])
    registry = asyncio.run(RegistryClient.connect(account, deployed.registry))
    assert registry.token == deployed.token == FEE_TOKEN
    assert asyncio.run(registry.setting("fact_registry")) == deployed.fact_registry
    assert asyncio.run(registry.setting("withdrawal_delay")) == 60
    assert asyncio.run(registry.setting("min_security_bits")) == 80
    with pytest.raises(ValueError, match="unknown setting"):
        asyncio.run(registry.setting("balances"))
    facts = FactRegistryClient(account, deployed.fact_registry)
    assert asyncio.run(facts.owner()) == account.address


def test_deploy_script_pays_with_a_predeployed_account_on_a_devnet(
    devnet: RestartableDevnet, deployed: Deployment, tmp_path: Path
) -> None:
    config = tmp_path / "devnet.toml"
    config.write_text((REPO / "devnet.toml").read_text())
    done = run_deploy(config, devnet.url)
    assert done.returncode == 0, done.stderr
    written = tomli.loads(config.read_text())["contracts"]
    assert int(written["registry"], 16) not in (0, deployed.registry)
    assert int(written["fact_registry"], 16) not in (0, deployed.fact_registry)


def test_deploy_script_adds_verifiers_to_the_fact_registry_it_deploys(
    devnet: RestartableDevnet, tmp_path: Path
) -> None:
    config = tmp_path / "devnet.toml"
    config.write_text((REPO / "devnet.toml").read_text())
    validator = devnet.info["accounts"][1]["address"]
    done = run_deploy(config, devnet.url, "--verifier", validator)
    assert done.returncode == 0, done.stderr
    written = tomli.loads(config.read_text())["contracts"]
    account, _ = make_account(devnet.url, int(devnet.info["chain_id"], 16),
                              devnet.info["accounts"][0])
    facts = FactRegistryClient(account, int(written["fact_registry"], 16))
    assert asyncio.run(facts.is_verifier(int(validator, 16)))
    assert not asyncio.run(facts.is_verifier(account.address))


def test_deploy_script_refuses_verifiers_for_a_fact_registry_it_does_not_own(
    tmp_path: Path,
) -> None:
    config = tmp_path / "devnet.toml"
    config.write_text((REPO / "devnet.toml").read_text())
    done = run_deploy(config, "http://127.0.0.1:9/rpc", "--fact-registry", "0x123",
                      "--verifier", "0x456")
    assert done.returncode == 2
    assert "--verifier needs the FactRegistry deployed here" in done.stderr


def test_deploy_script_reports_an_unreachable_node(tmp_path: Path) -> None:
    config = tmp_path / "devnet.toml"
    config.write_text((REPO / "devnet.toml").read_text())
    done = run_deploy(config, "http://127.0.0.1:9/rpc")
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "127.0.0.1:9" in done.stderr
    assert config.read_text() == (REPO / "devnet.toml").read_text()


def test_deploy_script_reports_a_wrong_keystore_password(
    devnet: RestartableDevnet, keystore: list[str], tmp_path: Path
) -> None:
    config = tmp_path / "devnet.toml"
    config.write_text((REPO / "devnet.toml").read_text())
    (tmp_path / "wrong").write_text("wrong horse\n")
    done = run_deploy(config, devnet.url, *keystore[:4], "--password-file", str(tmp_path / "wrong"))
    assert done.returncode == 2
    assert "wrong password for keystore" in done.stderr
    assert config.read_text() == (REPO / "devnet.toml").read_text()


def test_event_stream_resumes_exactly_across_a_restart(
    devnet: RestartableDevnet, deployed: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    """A live stream rides out the restart; a saved cursor resumes on the restarted node."""
    caplog.set_level(logging.WARNING, logger="registry_contract.events")
    chain_id = int(devnet.info["chain_id"], 16)
    account, _ = make_account(devnet.url, chain_id, devnet.info["accounts"][1])
    registry = RegistryClient(account, deployed.registry, deployed.token, FIXED_BOUNDS)
    client = account.client

    async def scenario() -> tuple[EventCursor, list[int]]:
        for amount in (1, 2, 3):
            await registry.deposit(amount)
        stream = registry_events(client, deployed.registry, chunk_size=2, poll_interval=POLL_S)
        first, saved = await anext(stream)
        assert first == Deposited(account=account.address, amount=1)
        live: list[int] = []

        async def follow() -> None:
            async for event, _ in stream:
                live.append(event.amount)

        task = asyncio.create_task(follow())
        await asyncio.to_thread(devnet.restart)
        await registry.deposit(4)
        while len(live) < 3:
            await asyncio.sleep(POLL_S)
        task.cancel()
        return saved, live

    saved, live = asyncio.run(asyncio.wait_for(scenario(), STREAM_TIMEOUT_S))
    assert live == [2, 3, 4]
    assert "cannot read registry events; retrying" in caplog.messages
    stored = json.loads(json.dumps(dataclasses.asdict(saved)))
    assert asyncio.run(collect(client, deployed.registry, EventCursor(**stored))) == [2, 3, 4]


async def collect(client: Client, registry: int, cursor: EventCursor) -> list[int]:
    """The amounts of the events from `cursor` on, until none comes for two seconds."""
    amounts = []
    stream = registry_events(client, registry, cursor, chunk_size=2, poll_interval=POLL_S)
    while True:
        try:
            event, _ = await asyncio.wait_for(anext(stream), 2)
        except asyncio.TimeoutError:
            return amounts
        amounts.append(event.amount)


def test_cursor_with_an_unknown_token_is_a_clear_error(
    devnet: RestartableDevnet, deployed: Deployment
) -> None:
    client = FullNodeClient(node_url=devnet.url)
    cursor = EventCursor(0, "not-a-token")
    stream = registry_events(client, deployed.registry, cursor, poll_interval=POLL_S)
    with pytest.raises(InvalidCursor, match="resume from EventCursor"):
        asyncio.run(asyncio.wait_for(anext(stream), STREAM_TIMEOUT_S))
