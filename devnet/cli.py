"""`node devnet`: start the embedded Starknet devnet and serve JSON-RPC until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from devnet.chain import FEE_TOKEN_ADDRESS, UDC_ADDRESS, Chain, DevnetConfig
from devnet.classes import builtin_class
from devnet.rpc import SPEC_VERSION, RpcApi
from devnet.server import RpcServer
from devnet.speculation import ValidateWorker
from devnet.toolchain import REPO_ROOT
from node import logs
from node.config import load_config

logger = logging.getLogger(__name__)

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="node devnet", description=__doc__)
    parser.add_argument("--config", type=Path, help="config file (devnet.toml)")
    parser.add_argument("--host", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port, 0 for any free port (default 5050)")
    parser.add_argument("--seed", type=int, help="seed of the predeployed accounts' keys")
    parser.add_argument("--accounts", type=int, help="number of predeployed accounts (default 10)")
    parser.add_argument("--initial-balance", type=int, help="fee tokens (FRI) per account")
    parser.add_argument("--dump-path", help="load the chain from FILE if present; dump on exit")
    parser.add_argument("--block-time", type=float, help="mine a block every S seconds")
    parser.add_argument("--validate-workers", type=int, choices=(-1, 0, 1),
                        help="run invokes' __validate__ in a worker process beside __execute__:"
                             " 1 on, 0 off (default -1: on with two cores or more)")
    parser.add_argument("--json", action="store_true", help="print the start-up summary as JSON")
    return parser.parse_args(argv)


FLAG_SETTINGS = ("host", "port", "seed", "accounts", "initial_balance", "dump_path", "block_time",
                 "validate_workers")


def load_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The [devnet] settings: defaults < config file < ZETINA_DEVNET_* < command-line options."""
    flags = {f"devnet.{name}": getattr(args, name) for name in FLAG_SETTINGS}
    settings = dataclasses.asdict(load_config(args.config, os.environ, flags).devnet)
    if settings["accounts"] < 0 or settings["port"] < 0:
        raise ValueError("accounts and port must not be negative")
    if settings["block_time"] < 0:
        raise ValueError("block time must be positive (0 mines a block per transaction)")
    if settings["validate_workers"] not in (-1, 0, 1):
        raise ValueError("validate_workers must be 0 (off), 1 (on) or -1 (on with >= 2 cores)")
    if settings["validate_workers"] == -1:
        settings["validate_workers"] = 1 if (os.cpu_count() or 1) >= 2 else 0
    settings["block_time"] = settings["block_time"] or None
    settings["dump_path"] = settings["dump_path"] or None
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
    chain = Chain(config)
    chain.create_genesis()
    return chain


YOUNG_COLLECTION_THRESHOLD = 10_000  # allocations between young collections (Python: 700)


def settle_memory() -> None:
    """Take the objects that live as long as the process (classes, their programs, ~200,000)
    out of the garbage collector's passes, and collect the young generation less often.

    A transfer allocates ~100,000 objects; with the defaults the collector walked every object
    of the process about once in five transfers (~0.3 s each: a quarter of the mean time).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])


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


async def run(chain: Chain, settings: dict[str, Any], as_json: bool) -> RpcApi:
    """Serve until SIGINT/SIGTERM; return the API (whose chain `devnet_load` may have replaced)."""
    dump_path = Path(settings["dump_path"]) if settings["dump_path"] else None
    api = RpcApi(chain, dump_path)
    server = RpcServer(api, settings["block_time"])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def ready(port: int) -> None:
        print_summary(summary(chain, f"http://{settings['host']}:{port}"), as_json)

    await server.serve(settings["host"], settings["port"], ready, stop)
    return api


def dump_on_exit(api: RpcApi) -> int:
    """Write the chain to the dump path, if any; 1 if that fails."""
    if api.dump_path is None:
        return 0
    try:
        api.chain.dump(api.dump_path)
    except OSError as exc:
        logger.error("chain not dumped: check the path and free space",
                     extra={"path": str(api.dump_path), "error": str(exc)})
        return 1
    logger.info("chain dumped", extra={"path": str(api.dump_path)})
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of `node devnet`; returns the process exit code."""
    args = parse_args(argv)
    logs.configure()
    started = time.monotonic()
    try:
        settings = load_settings(args)
        chain = build_chain(settings)
    except (OSError, ValueError) as exc:  # ConfigError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    worker = None
    if settings["validate_workers"]:
        worker = ValidateWorker(chain.state, chain.config.chain_id, FEE_TOKEN_ADDRESS)
        chain.speculate_with(worker)
    settle_memory()
    logger.info("devnet ready", extra={"seconds": round(time.monotonic() - started, 2),
                                       "validate_workers": settings["validate_workers"]})
    try:
        api = asyncio.run(run(chain, settings, args.json))
    except OSError as exc:
        print(f"error: cannot listen on {settings['host']}:{settings['port']}: {exc}",
              file=sys.stderr)
        return 2
    finally:
        if worker is not None:
            worker.stop()
    return dump_on_exit(api)
