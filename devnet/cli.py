"""`node devnet`: start the embedded Starknet devnet and serve JSON-RPC until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import tomli

from devnet.chain import FEE_TOKEN_ADDRESS, UDC_ADDRESS, Chain, DevnetConfig
from devnet.classes import builtin_class
from devnet.logs import setup_logging
from devnet.rpc import SPEC_VERSION, RpcApi
from devnet.server import RpcServer
from devnet.toolchain import REPO_ROOT

logger = logging.getLogger(__name__)

CONFIG_KEYS = {"host": str, "port": int, "seed": int, "accounts": int, "dump_path": str,
               "block_time": float, "initial_balance": int}
DEFAULTS: dict[str, Any] = {"host": "127.0.0.1", "port": 5050, "seed": 0, "accounts": 10,
                            "dump_path": None, "block_time": None, "initial_balance": 10**21}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="node devnet", description=__doc__)
    parser.add_argument("--config", type=Path, help="devnet.toml ([devnet] table) with defaults")
    parser.add_argument("--host", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port, 0 for any free port (default 5050)")
    parser.add_argument("--seed", type=int, help="seed of the predeployed accounts' keys")
    parser.add_argument("--accounts", type=int, help="number of predeployed accounts (default 10)")
    parser.add_argument("--initial-balance", type=int, help="fee tokens (FRI) per account")
    parser.add_argument("--dump-path", help="load the chain from FILE if present; dump on exit")
    parser.add_argument("--block-time", type=float, help="mine a block every S seconds")
    parser.add_argument("--json", action="store_true", help="print the start-up summary as JSON")
    return parser.parse_args(argv)


def load_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Defaults, then the config file's [devnet] table, then command-line options."""
    settings = dict(DEFAULTS)
    if args.config is not None:
        table = tomli.loads(args.config.read_text()).get("devnet", {})
        for key, value in table.items():
            expected = CONFIG_KEYS.get(key)
            if expected is None:
                raise ValueError(f"{args.config}: unknown key {key!r} in [devnet]")
            if not isinstance(value, expected) and not (expected is float
                                                         and isinstance(value, int)):
                raise ValueError(f"{args.config}: {key} must be a {expected.__name__}")
            settings[key] = value
    for key in CONFIG_KEYS:
        value = getattr(args, key)
        if value is not None:
            settings[key] = value
    if settings["accounts"] < 0 or settings["port"] < 0:
        raise ValueError("accounts and port must not be negative")
    if settings["block_time"] is not None and settings["block_time"] <= 0:
        raise ValueError("block time must be positive")
    return settings


def build_chain(settings: dict[str, Any]) -> Chain:
    """Load the chain from the dump path if it exists, else create a fresh genesis."""
    config = DevnetConfig(seed=settings["seed"], accounts=settings["accounts"],
                          initial_balance=settings["initial_balance"],
                          block_time=settings["block_time"],
                          casm_cache=REPO_ROOT / ".cache" / "casm")
    dump_path = settings["dump_path"]
    if dump_path and Path(dump_path).is_file():
        chain = Chain.load(Path(dump_path), config)
        logger.info("chain loaded", extra={"path": dump_path, "blocks": len(chain.blocks)})
        return chain
    chain = Chain(replace(config))
    chain.create_genesis()
    return chain


def summary(chain: Chain, url: str) -> dict[str, Any]:
    return {
        "rpc_url": url, "spec_version": SPEC_VERSION, "chain_id": hex(chain.chain_id),
        "fee_token": hex(FEE_TOKEN_ADDRESS), "universal_deployer": hex(UDC_ADDRESS),
        "account_class_hash": hex(builtin_class("account").class_hash),
        "accounts": [{"address": hex(a.address), "private_key": hex(a.private_key),
                      "public_key": hex(a.public_key)} for a in chain.accounts],
    }


def print_summary(info: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(info), flush=True)
        return
    lines = [f"Predeployed fee token (STRK)  {info['fee_token']}",
             f"Predeployed universal deployer {info['universal_deployer']}",
             f"Account class hash             {info['account_class_hash']}", ""]
    for index, account in enumerate(info["accounts"]):
        lines += [f"| Account #{index}", f"| Address     {account['address']}",
                  f"| Private key {account['private_key']}",
                  f"| Public key  {account['public_key']}", ""]
    lines.append(f"Listening on {info['rpc_url']} (Starknet JSON-RPC {info['spec_version']})")
    print("\n".join(lines), flush=True)


async def run(chain: Chain, settings: dict[str, Any], as_json: bool) -> None:
    dump_path = Path(settings["dump_path"]) if settings["dump_path"] else None
    server = RpcServer(RpcApi(chain, dump_path), settings["block_time"])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def ready(port: int) -> None:
        print_summary(summary(chain, f"http://{settings['host']}:{port}"), as_json)

    await server.serve(settings["host"], settings["port"], ready, stop)
    if dump_path is not None:
        chain.dump(dump_path)
        logger.info("chain dumped", extra={"path": str(dump_path)})


def main(argv: list[str] | None = None) -> int:
    """Entry point of `node devnet`; returns the process exit code."""
    args = parse_args(argv)
    setup_logging()
    started = time.monotonic()
    try:
        settings = load_settings(args)
        chain = build_chain(settings)
    except (OSError, ValueError, tomli.TOMLDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logger.info("devnet ready", extra={"seconds": round(time.monotonic() - started, 2)})
    try:
        asyncio.run(run(chain, settings, args.json))
    except OSError as exc:
        print(f"error: cannot listen on {settings['host']}:{settings['port']}: {exc}",
              file=sys.stderr)
        return 2
    return 0
