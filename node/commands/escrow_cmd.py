"""`node deposit | withdraw | balance`: this node's escrow in the Registry."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from node.amounts import Amount
from node.config import Config
from p2p.stark import STARK_PRIME


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    deposit = commands.add_parser(
        "deposit", parents=[common], help="move tokens into this node's Registry escrow"
    )
    deposit.add_argument("amount", metavar="AMOUNT", type=amount_argument(),
                         help="tokens (0.5) or base units (500000fri)")
    deposit.set_defaults(handler=deposit_tokens)

    withdraw = commands.add_parser(
        "withdraw", parents=[common],
        help="request a withdrawal from the escrow, or --complete one that is unlocked",
    )
    what = withdraw.add_mutually_exclusive_group(required=True)
    what.add_argument("amount", metavar="AMOUNT", nargs="?", type=amount_argument(),
                      help="set this amount aside; it unlocks after the Registry's delay")
    what.add_argument("--complete", action="store_true", help="pay out the unlocked amount")
    withdraw.set_defaults(handler=withdraw_tokens)

    balance = commands.add_parser(
        "balance", parents=[common], help="token balance, escrow and pending withdrawal"
    )
    balance.add_argument("--account", type=address_argument,
                         help="another account (default: chain.account)")
    balance.set_defaults(handler=show_balance)


def amount_argument(name: str = "AMOUNT") -> Callable[[str], Amount]:
    """An argparse type for a token amount given as argument `name`."""

    def parse(text: str) -> Amount:
        try:
            return Amount.parse(text, name)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def address_argument(text: str) -> int:
    """A 0x-prefixed Starknet address, for argparse."""
    try:
        value = int(text, 16) if text.lower().startswith("0x") else -1
    except ValueError:
        value = -1
    if not 0 < value < STARK_PRIME:
        raise argparse.ArgumentTypeError(f"{text!r} is not a Starknet address (0x-prefixed hex)")
    return value


# The chain side loads starknet-py and libp2p: imported when a command runs, not at start-up.

def deposit_tokens(args: argparse.Namespace, config: Config) -> dict[str, Any]:
    from node import escrow

    return escrow.deposit(config, args.amount, args.json)


def withdraw_tokens(args: argparse.Namespace, config: Config) -> dict[str, Any]:
    from node import escrow

    if args.complete:
        return escrow.complete_withdrawal(config, args.json)
    return escrow.request_withdrawal(config, args.amount, args.json)


def show_balance(args: argparse.Namespace, config: Config) -> dict[str, Any]:
    from node import escrow

    return escrow.balance(config, args.account, args.json)
