"""The `node` command line: `node <command> [options]`.

Every command takes --json (its result as one JSON document on stdout), --config FILE and
--log-level. Logs go to stderr. Exit codes: 0 success, 1 failure at run time, 2 bad usage or config.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from node import __version__, logs
from node.commands import (
    config_cmd,
    escrow_cmd,
    events_cmd,
    jobs_cmd,
    keys_cmd,
    roles_cmd,
    stake_cmd,
    status_cmd,
)
from node.config import Config, load_config
from node.errors import PartialResult, UserError


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="TOML config file (default: $ZETINA_CONFIG)")
    common.add_argument("--json", action="store_true", help="print the result as JSON")
    common.add_argument("--log-level", choices=logs.LEVELS, help="log verbosity (default: info)")
    common.add_argument("--data-dir", help="where this node keeps its files")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="node", description="A node of the verifiable Cairo computation network."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = _common_options()
    version = commands.add_parser("version", parents=[common], help="print the version")
    version.set_defaults(handler=_version)
    commands.add_parser(
        "devnet", add_help=False, help="run the embedded Starknet devnet (node devnet --help)"
    )
    keys_cmd.register(commands, common)
    config_cmd.register(commands, common)
    jobs_cmd.register(commands, common)
    escrow_cmd.register(commands, common)
    stake_cmd.register(commands, common)
    status_cmd.register(commands, common)
    events_cmd.register(commands, common)
    roles_cmd.register(commands, common)
    return parser


def _version(args: argparse.Namespace, config: Config) -> dict[str, Any]:
    return {"version": __version__, "python": sys.version.split()[0]}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["devnet"]:  # a program of its own, with its own options
        from devnet.cli import main as devnet_main

        return devnet_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config, os.environ, _flags(args))
        logs.configure(config.node.log_level, config.node.log_format == "json")
        result = args.handler(args, config)
    except PartialResult as exc:
        return _fail(args, str(exc), exc.exit_code, exc.result)
    except UserError as exc:
        return _fail(args, str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return _fail(args, "interrupted", 130)
    try:
        _print_result(result, args.json)
    except BrokenPipeError:  # e.g. `node config show | head`
        sys.stderr.close()
    return 0


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    """Settings given as flags, by their dotted names."""
    names = {"log_level": "node.log_level", "data_dir": "node.data_dir"}
    names.update(getattr(args, "setting_flags", {}))
    return {setting: getattr(args, attr, None) for attr, setting in names.items()}


def _fail(
    args: argparse.Namespace, message: str, code: int, partial: dict[str, Any] | None = None
) -> int:
    if args.json:
        print(json.dumps({**(partial or {}), "error": message}, default=str))
    elif partial:
        _print_result(partial, False)
    print(f"error: {message}", file=sys.stderr)
    return code


def _print_result(result: dict[str, Any] | None, as_json: bool) -> None:
    """Print a handler's result; None when the handler printed its own output."""
    if result is None:
        return
    if as_json:
        print(json.dumps(result, indent=2, default=str))
        return
    for key, value in result.items():
        print(f"{key}: {value}")
