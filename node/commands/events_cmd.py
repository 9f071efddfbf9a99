"""`node events`: the Registry's events, one line each, optionally followed and resumable."""

from __future__ import annotations

import argparse

from node.commands.escrow_cmd import address_argument
from node.config import Config

EVENT_TYPES = ("CheatReported", "Deposited", "JobCompleted", "Staked", "UnstakeRequested",
               "Unstaked", "WithdrawalRequested", "Withdrawn")
"""The names of `registry_contract.events.RegistryEvent`'s classes."""


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    events = commands.add_parser("events", parents=[common], help="print the Registry's events")
    events.add_argument("--from-block", type=_block_number, default=0, metavar="N",
                        help="first block to read when no --resume cursor is saved (default 0)")
    events.add_argument("--follow", action="store_true",
                        help="keep printing new events until interrupted (Ctrl-C)")
    events.add_argument("--type", action="append", choices=EVENT_TYPES,
                        help="only events of this type (repeatable)")
    events.add_argument("--account", type=address_argument,
                        help="only events naming this account (as account, delegator or executor)")
    events.add_argument("--resume", metavar="NAME",
                        help="continue where the last run with NAME stopped (the cursor is kept in "
                        "<data-dir>/cursors/NAME.json); --from-block applies to the first run")
    events.set_defaults(handler=print_events)


def _block_number(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a block number (0, 1, 2, …)")
    return int(text)


def print_events(args: argparse.Namespace, config: Config) -> None:
    """Print the events as they come (a summary goes to stderr); nothing left for the CLI."""
    from node import event_printer  # loads starknet-py

    query = event_printer.EventQuery(
        types=tuple(args.type or ()), account=args.account, from_block=args.from_block,
        resume=args.resume, follow=args.follow, as_json=args.json,
    )
    event_printer.print_events(config, query)
