"""The chain as the one-shot account commands see it: checked client, token, balances, errors.

`run_on_chain` runs a coroutine with `asyncio.run` and turns an unreachable node, a node's error
and a contract's refusal into `UserError`s that say what to do. Views need no key: only
`deposit` and `withdraw` load the wallet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from starknet_py.cairo.felt import decode_shortstring
from starknet_py.hash.selector import get_selector_from_name
from starknet_py.net.client_errors import ClientError
from starknet_py.net.client_models import Call
from starknet_py.net.full_node_client import FullNodeClient

from node.amounts import format_amount
from node.config import Config
from node.errors import UserError
from node.wallet import chain_id, check_chain
from registry_contract.classes import contract_abi
from registry_contract.client import Refused

logger = logging.getLogger(__name__)

T = TypeVar("T")

PROGRESS_EVERY_S = 5.0
"""How often a long wait says it is still waiting."""


class ChainUnreachable(UserError):
    """The Starknet node at chain.rpc_url does not answer."""


@dataclass(frozen=True)
class Token:
    """The ERC20 token the Registry escrows."""

    address: int
    decimals: int
    symbol: str

    def format(self, units: int) -> str:
        return format_amount(units, self.decimals, self.symbol)

    def show(self, units: int, as_json: bool) -> int | str:
        """Base units for JSON, a formatted number of tokens for text."""
        return units if as_json else self.format(units)


@dataclass(frozen=True)
class Holdings:
    """An account's tokens and escrow; `unlock_at` is 0 when no withdrawal is pending."""

    tokens: int
    escrow: int
    available: int
    pending: int
    unlock_at: int

    def describe(self, token: Token, as_json: bool) -> dict[str, Any]:
        """The holdings in base units (JSON) or formatted tokens (text)."""
        amounts = {"token_balance": self.tokens, "escrow": self.escrow,
                   "available": self.available, "pending_withdrawal": self.pending}
        shown = {name: token.show(units, as_json) for name, units in amounts.items()}
        return {**shown, "unlock_at": describe_time(self.unlock_at) if self.unlock_at else None}


UNREACHABLE_ERRORS = (aiohttp.ClientError, ConnectionError, asyncio.TimeoutError)
"""What a starknet-py client raises when the node at chain.rpc_url does not answer."""


def unreachable(config: Config, exc: BaseException) -> ChainUnreachable:
    """The error to show for `exc`, one of UNREACHABLE_ERRORS."""
    return ChainUnreachable(f"cannot reach the Starknet node at {config.chain.rpc_url} "
                            f"({exc!r}); start it or fix chain.rpc_url")


def run_on_chain(config: Config, coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to its end; chain failures become UserErrors naming chain.rpc_url."""
    url = config.chain.rpc_url
    try:
        return asyncio.run(coroutine)
    except Refused as refused:
        raise UserError(f"the contract refused: {refused.refusal.value}") from None
    except UNREACHABLE_ERRORS as exc:
        raise unreachable(config, exc) from None
    except ClientError as exc:
        raise UserError(f"the Starknet node at {url} answered: {exc.message}") from None


async def checked_client(config: Config) -> FullNodeClient:
    """A client of chain.rpc_url, after checking it serves chain.chain_id."""
    client = FullNodeClient(node_url=config.chain.rpc_url)
    await check_chain(client, chain_id(config))
    return client


async def registry_view(client: FullNodeClient, registry: int, function: str, *args: Any) -> Any:
    """A Registry view (no account needed)."""
    return await contract_abi("registry").view(client, registry, function, *args)


async def read_token(client: FullNodeClient, registry: int) -> Token:
    """The Registry's token with its decimals and symbol (`?` if not a short string)."""
    address = await registry_view(client, registry, "token")
    (decimals,) = await _call(client, address, "decimals")
    symbol_felts = await _call(client, address, "symbol")
    try:
        symbol = decode_shortstring(symbol_felts[0]) if len(symbol_felts) == 1 else "?"
    except ValueError:
        symbol = "?"
    return Token(address, decimals, symbol)


async def read_holdings(
    client: FullNodeClient, registry: int, token: Token, account: int
) -> Holdings:
    """`account`'s token balance, escrow, available escrow and pending withdrawal."""
    low, high = await _call(client, token.address, "balance_of", account)
    pending, unlock_at = await registry_view(client, registry, "pending_withdrawal", account)
    return Holdings(
        tokens=low + (high << 128),
        escrow=await registry_view(client, registry, "balance_of", account),
        available=await registry_view(client, registry, "available_balance", account),
        pending=pending,
        unlock_at=unlock_at,
    )


async def _call(client: FullNodeClient, address: int, function: str, *args: int) -> list[int]:
    call = Call(to_addr=address, selector=get_selector_from_name(function), calldata=list(args))
    return await client.call_contract(call)


def describe_time(timestamp: int) -> str:
    """A block timestamp in UTC, ISO 8601."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


@contextlib.asynccontextmanager
async def progress(what: str) -> AsyncIterator[None]:
    """Say on stderr what is being waited for, every PROGRESS_EVERY_S while it lasts."""
    started = time.monotonic()
    print(f"{what}…", file=sys.stderr, flush=True)

    async def tick() -> None:
        while True:
            await asyncio.sleep(PROGRESS_EVERY_S)
            waited = time.monotonic() - started
            print(f"{what}: still waiting ({waited:.0f} s)", file=sys.stderr, flush=True)

    ticker = asyncio.create_task(tick())
    try:
        yield
    finally:
        ticker.cancel()
    print(f"{what}: done in {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
