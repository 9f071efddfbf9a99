"""A whole network on one machine, for the demo, integration tests and benchmarks.

`LocalNetwork` starts the embedded devnet, deploys the Registry and FactRegistry (by default
facts verified by re-execution are accepted: `min_security_bits = 0`), writes one config file
for every node, and starts nodes as separate `node` processes, each with its own data
directory, keystore (a predeployed devnet account imported with `node keys import`) and libp2p
identity. Every process is stopped when the network is.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devnet.spawn import DevnetProcess
from node.config import env_name, load_config

PASSWORD = "local network password"
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 20.0
WITHDRAWAL_DELAY_S = 60


@dataclass
class NodeProcess:
    """A running `node` role process and what it printed when ready."""

    name: str
    process: subprocess.Popen[str]
    log_path: Path
    ready: dict[str, Any] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    """Everything it printed on stdout after the ready line."""

    @property
    def address(self) -> str:
        """Its first listen multiaddr with /p2p/<peer id>: what others bootstrap from."""
        return self.ready["addrs"][0]

    def stop(self) -> int:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT_S; returns the exit status."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()

    def kill(self) -> None:
        """SIGKILL: the node dies mid-work, as in a crash."""
        self.process.kill()
        self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class Delegating:
    """A running `node delegate --json`: its progress events as they come, then its outcome."""

    process: subprocess.Popen[str]
    events: list[dict[str, Any]] = field(default_factory=list)
    other_lines: list[str] = field(default_factory=list)
    """Its stderr lines that are not progress events (logs, errors)."""
    changed: threading.Condition = field(default_factory=threading.Condition)
    finished: bool = False
    """Its stderr is closed: every event is in `events`."""

    def read_progress(self) -> None:
        assert self.process.stderr is not None
        self._read(self.process.stderr)
        with self.changed:
            self.finished = True
            self.changed.notify_all()

    def progress(self) -> Iterator[dict[str, Any]]:
        """Every progress event, as it comes, until the process has ended."""
        shown = 0
        while True:
            with self.changed:
                self.changed.wait_for(lambda seen=shown: len(self.events) > seen or self.finished)
                new, finished = self.events[shown:], self.finished
            yield from new
            shown += len(new)
            if finished and not new:
                return

    def _read(self, stderr: Iterable[str]) -> None:
        for line in stderr:
            try:
                event = json.loads(line)
            except ValueError:
                event = None
            with self.changed:
                if isinstance(event, dict) and "event" in event:
                    self.events.append(event)
                else:
                    self.other_lines.append(line)
                self.changed.notify_all()

    def wait_for(self, event: str, timeout: float = 120.0, **details: str) -> dict[str, Any]:
        """The first progress event named `event` with these details (waits for it)."""
        def found() -> dict[str, Any] | None:
            return next((e for e in self.events if e["event"] == event
                         and all(e.get(k) == v for k, v in details.items())), None)

        with self.changed:
            if not self.changed.wait_for(lambda: found() or self.process.poll() is not None,
                                         timeout):
                raise TimeoutError(f"no {event} {details} within {timeout}s: {self.events}")
        match = found()
        if match is None:
            raise RuntimeError(f"delegate exited before {event}: {''.join(self.other_lines)}")
        return match

    def outcome(self, timeout: float = 300.0) -> dict[str, Any]:
        """The outcome it printed on stdout (waits for it to exit); an `error` key when it
        failed after publishing (expired). RuntimeError when it printed no outcome."""
        self.process.wait(timeout)
        assert self.process.stdout is not None
        stdout = self.process.stdout.read()
        try:
            outcome = json.loads(stdout)
        except ValueError:
            outcome = None
        if not isinstance(outcome, dict) or set(outcome) == {"error"}:
            raise RuntimeError(f"node delegate failed: {''.join(self.other_lines)[-4000:]}")
        return outcome


class LocalNetwork:
    """Devnet + contracts + nodes under `work`; use as a context manager."""

    def __init__(
        self, work: Path, accounts: int = 4, seed: int = 1, min_security_bits: int = 0
    ) -> None:
        self.work = work
        self.accounts = accounts
        self.seed = seed
        self.min_security_bits = min_security_bits
        """The Registry pays facts with at least these proof bits (0: re-execution will do)."""
        self.devnet: DevnetProcess | None = None
        self.config_path = work / "network.toml"
        self.nodes: list[NodeProcess] = []
        self.delegations: list[Delegating] = []

    def __enter__(self) -> LocalNetwork:
        self.work.mkdir(parents=True, exist_ok=True)
        self.devnet = DevnetProcess("--accounts", str(self.accounts), "--seed", str(self.seed))
        try:
            self._write_config()
            self._deploy()
        except BaseException:
            self.devnet.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop_all_but([], [])
        if self.devnet is not None:
            self.devnet.stop()

    @contextlib.contextmanager
    def scoped(self) -> Iterator[LocalNetwork]:
        """Nodes and delegations started inside the block are stopped when it ends; the
        devnet, the contracts and the chain's state stay (one network serves several suites)."""
        nodes, delegations = list(self.nodes), list(self.delegations)
        try:
            yield self
        finally:
            self._stop_all_but(nodes, delegations)

    def _stop_all_but(self, nodes: list[NodeProcess], delegations: list[Delegating]) -> None:
        kept = {id(item) for item in (*nodes, *delegations)}
        for delegating in self.delegations:
            if id(delegating) not in kept and delegating.process.poll() is None:
                delegating.process.kill()
                delegating.process.wait()
        for node in reversed(self.nodes):
            if id(node) not in kept:
                node.stop()
        self.nodes[:] = [node for node in self.nodes if id(node) in kept]
        self.delegations[:] = [item for item in self.delegations if id(item) in kept]

    @property
    def url(self) -> str:
        assert self.devnet is not None
        return self.devnet.url

    def account(self, index: int) -> dict[str, str]:
        """A predeployed account: address, private_key, public_key (hex strings)."""
        assert self.devnet is not None
        return self.devnet.info["accounts"][index]

    def contracts(self) -> dict[str, int]:
        """The deployed addresses (token, registry, fact_registry)."""
        config = load_config(self.config_path, {})
        return {name: int(config.get(f"contracts.{name}"), 16)
                for name in ("token", "registry", "fact_registry")}

    def data_dir(self, name: str) -> Path:
        return self.work / name

    def env(self, account_index: int, settings: dict[str, str] | None = None) -> dict[str, str]:
        """The environment of a node acting for predeployed account `account_index`, with
        extra `settings` as ZETINA_ variables ({"executor.price_ratio": "0.5"})."""
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith("ZETINA_")},
            "ZETINA_KEYSTORE_PASSWORD": PASSWORD,
            "ZETINA_CHAIN_ACCOUNT": self.account(account_index)["address"],
            **{env_name(name): value for name, value in (settings or {}).items()},
        }

    def node_command(self, *args: str, name: str, account_index: int,
                     timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
        """Run a one-shot `node` command as node `name`; its keys must be imported."""
        return subprocess.run(
            [sys.executable, "-m", "node", *args, "--config", str(self.config_path),
             "--data-dir", str(self.data_dir(name))],
            env=self.env(account_index), capture_output=True, text=True, timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def import_keys(self, name: str, account_index: int) -> None:
        """Give node `name` the key of predeployed account `account_index` and an identity."""
        key_file = self.work / f"{name}.key"
        key_file.write_text(self.account(account_index)["private_key"])
        key_file.chmod(0o600)
        done = self.node_command("keys", "import", "--private-key-file", str(key_file),
                                 "--force", name=name, account_index=account_index)
        key_file.unlink()
        if done.returncode != 0:
            raise RuntimeError(f"key import for {name} failed: {done.stderr}")

    def start(self, role: str, name: str, account_index: int, *args: str,
              bootstrap: list[str] | None = None,
              settings: dict[str, str] | None = None) -> NodeProcess:
        """Start `node <role>` as node `name` and wait for its ready line (keys imported if
        the node has none)."""
        if not (self.data_dir(name) / "keystore.json").exists():
            self.import_keys(name, account_index)
        if bootstrap is None:
            bootstrap = [node.address for node in self.nodes if node.process.poll() is None]
        log_path = self.data_dir(name) / f"{role}.log"
        command = [sys.executable, "-m", "node", role, "--config", str(self.config_path),
                   "--data-dir", str(self.data_dir(name)), "--json", "--log-level", "info",
                   *[arg for peer in bootstrap for arg in ("--bootstrap", peer)], *args]
        with log_path.open("a") as log:
            process = subprocess.Popen(command, env=self.env(account_index, settings),
                                       stdout=subprocess.PIPE, stderr=log, text=True,
                                       stdin=subprocess.DEVNULL)
        node = NodeProcess(name, process, log_path)
        node.ready = _ready_line(node)
        threading.Thread(target=_collect, args=(node,), daemon=True).start()
        self.nodes.append(node)
        return node

    def delegate(self, program: Path, program_input: dict[str, Any], reward: int, *args: str,
                 account_index: int, name: str = "delegator",
                 settings: dict[str, str] | None = None, wait: bool = True) -> Delegating:
        """Start `node delegate PROGRAM --json` (with `--wait` unless told not to),
        bootstrapped to every running node."""
        return self._delegating([str(program), "--input", json.dumps(program_input),
                                 "--reward", f"{reward}fri", *(["--wait"] if wait else []),
                                 *args], account_index, name, settings)

    def resume(self, *args: str, account_index: int, name: str = "delegator",
               settings: dict[str, str] | None = None) -> Delegating:
        """Start `node delegate --resume ARGS --wait --json`, bootstrapped to every running
        node: node `name` takes up again the jobs an earlier run left open."""
        return self._delegating(["--resume", *args, "--wait"], account_index, name, settings)

    def _delegating(self, args: list[str], account_index: int, name: str,
                    settings: dict[str, str] | None) -> Delegating:
        if not (self.data_dir(name) / "keystore.json").exists():
            self.import_keys(name, account_index)
        bootstrap = [arg for node in self.nodes if node.process.poll() is None
                     for arg in ("--bootstrap", node.address)]
        command = [sys.executable, "-m", "node", "delegate", *args, "--json",
                   "--log-level", "warning", "--config", str(self.config_path),
                   "--data-dir", str(self.data_dir(name)), *bootstrap]
        process = subprocess.Popen(command, env=self.env(account_index, settings),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   stdin=subprocess.DEVNULL)
        delegating = Delegating(process)
        threading.Thread(target=delegating.read_progress, daemon=True).start()
        self.delegations.append(delegating)
        return delegating

    def deposit(self, account_index: int, amount: int, name: str = "delegator") -> None:
        """`node deposit`: put `amount` base units into the account's Registry escrow."""
        if not (self.data_dir(name) / "keystore.json").exists():
            self.import_keys(name, account_index)
        done = self.node_command("deposit", f"{amount}fri", "--json", name=name,
                                 account_index=account_index)
        if done.returncode != 0:
            raise RuntimeError(f"node deposit failed: {done.stderr}")

    def _write_config(self) -> None:
        assert self.devnet is not None
        chain_id = bytes.fromhex(self.devnet.info["chain_id"][2:]).decode()
        self.config_path.write_text(
            "[chain]\n"
            f'rpc_url = "{self.devnet.url}"\n'
            f'chain_id = "{chain_id}"\n\n'
            "[p2p]\n"
            'listen = ["/ip4/127.0.0.1/tcp/0"]\n'
            "republish_interval = 0.5\n\n"
            "[delegator]\n"
            "bid_window = 0.5\n"
            "assignment_window = 30.0\n\n"
            "[contracts]\n"
        )

    def _deploy(self) -> None:
        validator = self.account(0)["address"]
        deployed = subprocess.run(
            [sys.executable, "-m", "registry_contract.deploy", "--config", str(self.config_path),
             "--min-security-bits", str(self.min_security_bits),
             "--withdrawal-delay", str(WITHDRAWAL_DELAY_S),
             "--verifier", validator, "--json"],
            env={k: v for k, v in os.environ.items() if not k.startswith("ZETINA_")},
            capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
        )
        if deployed.returncode != 0:
            raise RuntimeError(f"deploying the contracts failed: {deployed.stderr}")


def _ready_line(node: NodeProcess) -> dict[str, Any]:
    stdout = node.process.stdout
    assert stdout is not None
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stdout], [], [], 1.0)
        if ready:
            line = stdout.readline()
            if not line:
                break
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict) and message.get("event") == "ready":
                return message
        elif node.process.poll() is not None:
            break
    node.stop()
    raise RuntimeError(f"node {node.name} did not get ready; its log:\n{node.log()[-4000:]}")


def _collect(node: NodeProcess) -> None:
    stdout = node.process.stdout
    assert stdout is not None
    for line in stdout:
        node.lines.append(line)
