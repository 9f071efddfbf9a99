"""`node stake | unstake | report-cheat`: this node's executor stake, and slashing a cheat."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from node.commands.escrow_cmd import amount_argument
from node.config import Config


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    stake = commands.add_parser(
        "stake", parents=[common],
        help="stake tokens as an executor (slashed if a cheat is reported)",
    )
    stake.add_argument("amount", metavar="AMOUNT", type=amount_argument(),
                       help="tokens (0.5) or base units (500000fri)")
    stake.set_defaults(handler=stake_tokens)

    unstake = commands.add_parser(
        "unstake", parents=[common],
        help="request to unstake (all by default), or --complete an unstake that is unlocked",
    )
    what = unstake.add_mutually_exclusive_group()
    what.add_argument("amount", metavar="AMOUNT", nargs="?", type=amount_argument(),
                      help="set this much aside; it unlocks after the Registry's delay")
    what.add_argument("--complete", action="store_true", help="pay out the unlocked stake")
    unstake.set_defaults(handler=unstake_tokens)

    report = commands.add_parser(
        "report-cheat", parents=[common],
        help="send a cheat report to the Registry: the executor is slashed, half to you",
    )
    report.add_argument("file", metavar="FILE", type=Path,
                        help="a file holding one encoded CheatReport")
    report.set_defaults(handler=send_cheat_report)


# The chain side loads starknet-py: imported when a command runs, not at start-up.

def stake_tokens(args: argparse.Namespace, config: Config) -> dict[str, Any]:
    from node import staking

    return staking.stake(config, args.amount, args.json)


def unstake_tokens(args: argparse.Namespace, config: Config) -> dict[str, Any]:
    from node import staking

    if args.complete:
        return staking.complete_unstake(config, args.json)
    return staking.request_unstake(config, args.amount, args.json)


def send_cheat_report(args: argparse.Namespace, config: Config) -> dict[str, Any]:
    from node import staking

    return staking.report_cheat(config, args.file, args.json)
