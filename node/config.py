"""Layered configuration: defaults < TOML file < environment (`ZETINA_…`) < command-line flags.

Every setting lives in a section (`[chain]`, `[p2p]`, …) and has one name: `chain.rpc_url` in
code and flags, `rpc_url` under `[chain]` in TOML, `ZETINA_CHAIN_RPC_URL` in the environment.
Unknown sections, keys and `ZETINA_` variables are errors (a typo must not be silently ignored),
and so is a value of the wrong type; each error names the setting and where it came from.
`Config.sources` says where each value came from, for `node config show`.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli

from node.errors import UserError

ENV_PREFIX = "ZETINA_"
ENV_CONFIG_FILE = "ZETINA_CONFIG"
ENV_KEYSTORE_PASSWORD = "ZETINA_KEYSTORE_PASSWORD"
NON_SETTING_ENV = {ENV_CONFIG_FILE, ENV_KEYSTORE_PASSWORD}


class ConfigError(UserError, ValueError):
    """A setting that cannot be used; the message names it, its source and what to do."""

    exit_code = 2


@dataclass
class NodeSection:
    data_dir: str = "~/.local/share/zetina"
    log_level: str = "info"
    log_format: str = "text"
    status_port: int = 0
    """Port of the /metrics and /health endpoint on 127.0.0.1; 0 turns it off."""


@dataclass
class ChainSection:
    rpc_url: str = "http://127.0.0.1:5050/rpc"
    chain_id: str = "SN_SEPOLIA"
    account: str = ""
    poll_interval: float = 0.25
    """Seconds between reads of the newest block number while a role waits for the chain."""
    fee_estimate_ttl: float = 60.0
    """Seconds an invoke's fee estimate is reused for invokes of the same calls; 0 estimates
    every invoke (a contract's refusal is then found before sending, at no cost)."""


@dataclass
class ContractsSection:
    token: str = ""
    registry: str = ""
    fact_registry: str = ""


@dataclass
class KeysSection:
    keystore: str = ""
    """Encrypted Starknet key (starkli keystore format); default <data_dir>/keystore.json."""
    identity: str = ""
    """libp2p Ed25519 identity; default <data_dir>/identity.key."""
    password_file: str = ""


@dataclass
class P2PSection:
    listen: list[str] = field(default_factory=lambda: ["/ip4/127.0.0.1/tcp/0"])
    bootstrap: list[str] = field(default_factory=list)
    republish_interval: float = 1.0
    """Seconds to the first re-publication of an open header, bid, assignment or witness
    notice; the next pauses double, up to 4 times this."""


@dataclass
class ExecutorSection:
    max_jobs: int = 2
    """Jobs running Cairo or proving at once (one Cairo worker process each); jobs waiting for
    their fact or payment take none."""
    max_steps: int = 10_000_000
    """Headers asking for more Cairo steps are dropped."""
    min_reward: int = 1
    """Headers paying less (token base units) are dropped; bids never ask less."""
    price_ratio: float = 1.0
    """A bid asks this share of the reward (at least min_reward)."""
    run_timeout: float = 600.0
    """Seconds a Cairo run may take."""
    allowed_hints_file: str = ""
    """JSON list of the hint codes jobs may use; default: the vetted library hints."""
    prover: str = "reexec"
    """`reexec`: witnesses validators re-execute (0 proof bits); `native`: the built-in STARK;
    `stone`: Stone's `cpu_air_prover` (on PATH, `scripts/install-stone`)."""
    prove_timeout: float = 1800.0
    """Seconds one proof may take (the native prover runs in a child process, then stops)."""


@dataclass
class DelegatorSection:
    bid_window: float = 1.0
    """Seconds bids are collected before the first assignment."""
    assignment_window: float = 60.0
    """Seconds the assigned executor has the job to itself."""
    deadline: float = 600.0
    """Default seconds from publication until the job expires."""


@dataclass
class ValidatorSection:
    synthetic_interval: float = 0.0
    """Seconds between synthetic jobs (0: none). Each pays its reward from this node's escrow."""
    synthetic_reward: int = 10**12
    """The reward of a synthetic job, in token base units (like an organic job's)."""
    synthetic_programs: list[str] = field(default_factory=lambda: ["long_loop", "poseidon_chain"])
    """Example programs with a known-answer model (node/roles/known_answers.py)."""
    synthetic_size: int = 2000
    """Iterations of the synthetic program (a few thousand Cairo steps each)."""
    synthetic_deadline: float = 120.0
    """Seconds an executor has to complete a synthetic job."""
    score_republish_interval: float = 60.0
    """Seconds between re-publications of every score this validator holds."""
    reexecute: bool = False
    """Re-execute every witness, those carrying a proof too (their facts are then registered
    with 0 proof bits); false: a witness's proof is verified by the verifier of its mode."""


@dataclass
class StreamSection:
    skew_ms: int = 2000
    """Client: the most a reply's times may lie outside the client's own clock, in ms."""
    request_timeout: float = 60.0
    """Client: seconds to wait for one reply."""
    idle_timeout: float = 60.0
    """Executor: a session without a request for this many seconds ends."""
    max_session: float = 600.0
    """Executor: seconds a session lasts at most (and never past the job's deadline)."""
    max_requests: int = 10_000
    """Executor: requests one session answers at most."""
    min_stake: int = 10**18
    """Client: executors staking less in the Registry (base units) are not assigned a session."""
    cross_check_rate: float = 0.0
    """Client: the share of requests also sent to a second executor and compared (0: off)."""


@dataclass
class DevnetSection:
    host: str = "127.0.0.1"
    port: int = 5050
    seed: int = 0
    accounts: int = 10
    initial_balance: int = 10**21
    """Fee tokens (FRI) minted to each predeployed account."""
    block_time: float = 0.0
    """Seconds between blocks; 0 mines a block per transaction."""
    dump_path: str = ""
    validate_workers: int = -1
    """Processes running invokes' `__validate__` beside `__execute__`: 0 or 1; -1 picks 1 on a
    machine with two cores or more, else 0."""


@dataclass
class Config:
    node: NodeSection = field(default_factory=NodeSection)
    chain: ChainSection = field(default_factory=ChainSection)
    contracts: ContractsSection = field(default_factory=ContractsSection)
    keys: KeysSection = field(default_factory=KeysSection)
    p2p: P2PSection = field(default_factory=P2PSection)
    executor: ExecutorSection = field(default_factory=ExecutorSection)
    delegator: DelegatorSection = field(default_factory=DelegatorSection)
    validator: ValidatorSection = field(default_factory=ValidatorSection)
    stream: StreamSection = field(default_factory=StreamSection)
    devnet: DevnetSection = field(default_factory=DevnetSection)
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    """Where each non-default setting came from: a file path, `env ZETINA_…` or `flag`."""

    @property
    def data_dir(self) -> Path:
        return Path(self.node.data_dir).expanduser()

    @property
    def keystore_path(self) -> Path:
        return (
            Path(self.keys.keystore).expanduser()
            if self.keys.keystore
            else (self.data_dir / "keystore.json")
        )

    @property
    def identity_path(self) -> Path:
        return (
            Path(self.keys.identity).expanduser()
            if self.keys.identity
            else (self.data_dir / "identity.key")
        )

    def get(self, name: str) -> Any:
        section, key = name.split(".", 1)
        return getattr(getattr(self, section), key)

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {name: dataclasses.asdict(getattr(self, name)) for name in _section_names()}


def _section_names() -> list[str]:
    return [f.name for f in dataclasses.fields(Config) if f.name != "sources"]


def _setting_types() -> dict[str, Any]:
    sections = typing.get_type_hints(Config)
    return {
        f"{section}.{key}": kind
        for section in _section_names()
        for key, kind in typing.get_type_hints(sections[section]).items()
    }


SETTINGS: dict[str, Any] = _setting_types()
"""Every setting's dotted name and its type."""

_YEAR_S = 365 * 24 * 3600.0
_U256 = 2**256 - 1
BOUNDS: dict[str, tuple[float, float]] = {
    "node.status_port": (0, 65535),
    "chain.poll_interval": (0.01, 3600.0),
    "chain.fee_estimate_ttl": (0.0, _YEAR_S),
    "p2p.republish_interval": (0.01, 3600.0),
    "executor.max_jobs": (1, 1024),
    "executor.max_steps": (1, 2**128 - 1),
    "executor.min_reward": (0, _U256),
    "executor.price_ratio": (0.0, 1.0),
    "executor.run_timeout": (0.1, _YEAR_S),
    "executor.prove_timeout": (0.1, _YEAR_S),
    "delegator.bid_window": (0.0, _YEAR_S),
    "delegator.assignment_window": (1.0, _YEAR_S),
    "delegator.deadline": (1.0, _YEAR_S),
    "validator.synthetic_interval": (0.0, _YEAR_S),
    "validator.synthetic_reward": (1, _U256),
    "validator.synthetic_size": (1, 10**9),
    "validator.synthetic_deadline": (1.0, _YEAR_S),
    "validator.score_republish_interval": (0.1, _YEAR_S),
    "stream.skew_ms": (0, 10**9),
    "stream.request_timeout": (0.1, _YEAR_S),
    "stream.idle_timeout": (0.1, _YEAR_S),
    "stream.max_session": (1.0, _YEAR_S),
    "stream.max_requests": (1, 10**9),
    "stream.min_stake": (0, _U256),
    "devnet.port": (0, 65535),
    "devnet.accounts": (1, 1000),
    "devnet.block_time": (0.0, 3600.0),
}
"""The lowest and highest value of each bounded number setting (NaN is refused too)."""


def env_name(setting: str) -> str:
    """The environment variable of a setting: chain.rpc_url -> ZETINA_CHAIN_RPC_URL."""
    return ENV_PREFIX + setting.replace(".", "_").upper()


_ENV_TO_SETTING = {env_name(name): name for name in SETTINGS}


def load_config(
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> Config:
    """Build the configuration from its four layers; `path` None means $ZETINA_CONFIG or none."""
    environ = os.environ if environ is None else environ
    config = Config()
    if path is None and environ.get(ENV_CONFIG_FILE):
        path = Path(environ[ENV_CONFIG_FILE])
    if path is not None:
        for name, value in _read_toml(path).items():
            _set(config, name, value, str(path), from_text=False)
    for variable, text in environ.items():
        if variable.startswith(ENV_PREFIX) and variable not in NON_SETTING_ENV:
            if variable not in _ENV_TO_SETTING:
                raise ConfigError(
                    f"unknown environment variable {variable}; settings are "
                    f"{', '.join(sorted(_ENV_TO_SETTING))}"
                )
            _set(config, _ENV_TO_SETTING[variable], text, f"env {variable}", from_text=True)
    for name, value in (flags or {}).items():
        if value is not None:
            _set(config, name, value, "flag", from_text=False)
    return config


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        document = tomli.loads(Path(path).expanduser().read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} does not exist; check --config or {ENV_CONFIG_FILE}"
        ) from None
    except (OSError, UnicodeDecodeError, tomli.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    settings = {}
    for section, table in document.items():
        if section not in _section_names() or not isinstance(table, dict):
            raise ConfigError(
                f"{path}: unknown section [{section}]; sections are {', '.join(_section_names())}"
            )
        for key, value in table.items():
            name = f"{section}.{key}"
            if name not in SETTINGS:
                known = ", ".join(
                    s.split(".", 1)[1] for s in SETTINGS if s.startswith(section + ".")
                )
                raise ConfigError(f"{path}: unknown key {key!r} in [{section}]; known: {known}")
            settings[name] = value
    return settings


def _set(config: Config, name: str, value: Any, source: str, *, from_text: bool) -> None:
    if name not in SETTINGS:
        raise ConfigError(f"unknown setting {name} (from {source})")
    try:
        typed = _parse_text(SETTINGS[name], value) if from_text else _check(SETTINGS[name], value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name} from {source}: {exc}") from None
    if name in BOUNDS and not BOUNDS[name][0] <= typed <= BOUNDS[name][1]:
        raise ConfigError(f"setting {name} from {source}: {typed!r} is out of range; give "
                          f"{_range_text(*BOUNDS[name])}")
    section, key = name.split(".", 1)
    setattr(getattr(config, section), key, typed)
    config.sources[name] = source


def _range_text(low: float, high: float) -> str:
    return f"at least {low:g}" if high >= 2**64 else f"a value from {low:g} to {high:g}"


def _parse_text(kind: Any, text: str) -> Any:
    if kind is bool:
        lowered = text.strip().lower()
        if lowered not in ("1", "0", "true", "false", "yes", "no"):
            raise ValueError(f"expected true or false, got {text!r}")
        return lowered in ("1", "true", "yes")
    if kind in (int, float):
        return kind(text)
    if kind == list[str]:
        return [item.strip() for item in text.split(",") if item.strip()]
    return text


def _check(kind: Any, value: Any) -> Any:
    if kind == list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise TypeError(f"expected a list of strings, got {value!r}")
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"expected {kind.__name__}, got {type(value).__name__} {value!r}")
    return value
