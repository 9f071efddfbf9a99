"""This node's escrow in the Registry: deposit, withdraw, balances and the chain's status.

The functions are the chain side of `node deposit | withdraw | balance | status`; each runs to
its end with `asyncio.run` (through `run_on_chain`) and returns the command's result.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starknet_py.net.client_models import TransactionReceipt

from node.amounts import Amount
from node.config import Config, ConfigError
from node.errors import UserError
from node.registry_access import (
    Token,
    checked_client,
    describe_time,
    progress,
    read_holdings,
    read_token,
    registry_view,
    run_on_chain,
)
from node.wallet import Wallet, account_address, check_chain, contract_address, load_wallet
from registry_contract.client import Refusal, Refused, RegistryClient

REFUSAL_HINTS = {
    Refusal.AMOUNT_OVER_AVAILABLE: "see `node balance` for the available escrow",
    Refusal.INSUFFICIENT_BALANCE: "your account holds fewer tokens; see `node balance`",
    Refusal.NOTHING_PENDING: "request a withdrawal first with `node withdraw AMOUNT`",
}
REGISTRY_SETTINGS = ("min_security_bits", "withdrawal_delay", "fact_registry")


def deposit(config: Config, amount: Amount, as_json: bool) -> dict[str, Any]:
    """Approve and deposit `amount` into this node's escrow."""
    return run_on_chain(config, _deposit(RegistrySession.of(config), amount, as_json))


def request_withdrawal(config: Config, amount: Amount, as_json: bool) -> dict[str, Any]:
    """Set `amount` of the escrow aside; say when it unlocks."""
    return run_on_chain(config, _request_withdrawal(RegistrySession.of(config), amount, as_json))


def complete_withdrawal(config: Config, as_json: bool) -> dict[str, Any]:
    """Pay out the unlocked pending withdrawal; UserError saying when, if still locked."""
    return run_on_chain(config, _complete_withdrawal(RegistrySession.of(config), as_json))


def balance(config: Config, account: int | None, as_json: bool) -> dict[str, Any]:
    """Tokens, escrow and pending withdrawal of `account` (default: chain.account)."""
    registry = contract_address(config, "registry")
    account = account_address(config) if account is None else account
    return run_on_chain(config, _balance(config, registry, account, as_json))


def chain_status(config: Config, as_json: bool) -> dict[str, Any]:
    """Block number, account, Registry and its settings, balances (what the config allows)."""
    return run_on_chain(config, _chain_status(config, as_json))


@dataclass(frozen=True)
class RegistrySession:
    """What a transaction needs: this node's wallet, the RPC URL and the Registry."""

    wallet: Wallet
    rpc_url: str
    registry: int

    @classmethod
    def of(cls, config: Config) -> RegistrySession:
        registry = contract_address(config, "registry")
        return cls(load_wallet(config), config.chain.rpc_url, registry)

    async def connect(self) -> tuple[RegistryClient, Token]:
        """A Registry client signing for the wallet (fees estimated), chain id checked."""
        account = self.wallet.account(self.rpc_url)
        await check_chain(account.client, self.wallet.chain_id)
        token = await read_token(account.client, self.registry)
        return RegistryClient(account, self.registry, token.address), token


async def _deposit(session: RegistrySession, amount: Amount, as_json: bool) -> dict[str, Any]:
    client, token, units, receipt = await send_amount(
        session, amount, "depositing", RegistryClient.deposit
    )
    escrow = await client.balance_of()
    return {
        "transaction": hex(receipt.transaction_hash),
        "deposited": token.show(units, as_json),
        "escrow": token.show(escrow, as_json),
    }


async def _request_withdrawal(
    session: RegistrySession, amount: Amount, as_json: bool
) -> dict[str, Any]:
    client, token, _, receipt = await send_amount(
        session, amount, "requesting a withdrawal of", RegistryClient.request_withdrawal
    )
    pending = await client.pending_withdrawal()
    return {
        "transaction": hex(receipt.transaction_hash),
        "pending_withdrawal": token.show(pending.amount, as_json),
        "unlock_at": describe_time(pending.unlock_at),
        "complete_with": "node withdraw --complete",
    }


async def send_amount(
    session: RegistrySession,
    amount: Amount,
    doing: str,
    send: Callable[[RegistryClient, int], Awaitable[TransactionReceipt]],
) -> tuple[RegistryClient, Token, int, TransactionReceipt]:
    """Connect, convert `amount` with the token's decimals, send it with progress on stderr."""
    client, token = await session.connect()
    units = amount.base_units(token.decimals)
    async with progress(f"{doing} {token.format(units)}"):
        receipt = await refusal_explained(send(client, units))
    return client, token, units, receipt


async def _complete_withdrawal(session: RegistrySession, as_json: bool) -> dict[str, Any]:
    client, token = await session.connect()
    pending = await client.pending_withdrawal()
    try:
        async with progress(f"withdrawing {token.format(pending.amount)}"):
            receipt = await refusal_explained(client.withdraw())
    except Refused as refused:
        if refused.refusal != Refusal.WITHDRAWAL_LOCKED:
            raise
        raise still_locked(f"the withdrawal of {token.format(pending.amount)}", pending.unlock_at,
                           "node withdraw --complete") from None
    escrow = await client.balance_of()
    return {
        "transaction": hex(receipt.transaction_hash),
        "withdrawn": token.show(pending.amount, as_json),
        "escrow": token.show(escrow, as_json),
    }


def still_locked(what: str, unlock_at: int, command: str) -> UserError:
    """The error for an amount whose delay has not passed yet: when, and what to run then."""
    wait = max(unlock_at - int(time.time()), 0)
    return UserError(
        f"{what} is locked until {describe_time(unlock_at)} (about {wait} s from now); "
        f"run `{command}` again then"
    )


async def refusal_explained(transaction: Awaitable[TransactionReceipt]) -> TransactionReceipt:
    """Await a transaction; a refusal with a known remedy becomes a UserError saying it."""
    try:
        return await transaction
    except Refused as refused:
        hint = REFUSAL_HINTS.get(refused.refusal)
        if hint is None:
            raise
        raise UserError(f"the contract refused: {refused.refusal.value}; {hint}") from None


async def _balance(config: Config, registry: int, account: int, as_json: bool) -> dict[str, Any]:
    client = await checked_client(config)
    token = await read_token(client, registry)
    holdings = await read_holdings(client, registry, token, account)
    return {"account": hex(account), **holdings.describe(token, as_json)}


async def _chain_status(config: Config, as_json: bool) -> dict[str, Any]:
    client = await checked_client(config)
    status: dict[str, Any] = {"block_number": await client.get_block_number()}
    account = _configured(account_address, config)
    registry = _configured(lambda c: contract_address(c, "registry"), config)
    status["account"] = hex(account) if isinstance(account, int) else account
    status["registry"] = hex(registry) if isinstance(registry, int) else registry
    if not isinstance(registry, int):
        return status
    for name in REGISTRY_SETTINGS:
        value = await registry_view(client, registry, name)
        status[name] = hex(value) if name == "fact_registry" else value
    if isinstance(account, int):
        token = await read_token(client, registry)
        holdings = await read_holdings(client, registry, token, account)
        status.update(holdings.describe(token, as_json))
    return status


def _configured(read: Callable[[Config], int], config: Config) -> int | str:
    """An address from the config, or why it is missing (status shows what it can)."""
    try:
        return read(config)
    except ConfigError as exc:
        return f"not set: {exc}"
