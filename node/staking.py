"""This node's executor stake in the Registry, and cheat reports sent from a file.

The chain side of `node stake | unstake | report-cheat`; like `node.escrow`, each function runs to
its end through `run_on_chain` and returns the command's result. Transactions have their fee
estimated first, so a refused one (a bad report, say) costs nothing and shows the contract's
message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from node.amounts import Amount
from node.config import Config
from node.errors import UserError
from node.escrow import RegistrySession, refusal_explained, send_amount, still_locked
from node.registry_access import describe_time, progress, run_on_chain
from p2p.codec import CodecError
from p2p.messages import CheatReport
from registry_contract.client import Refusal, Refused, RegistryClient
from registry_contract.events import CheatReported, registry_events_in


def stake(config: Config, amount: Amount, as_json: bool) -> dict[str, Any]:
    """Approve and add `amount` to this node's stake."""
    return run_on_chain(config, _stake(RegistrySession.of(config), amount, as_json))


def request_unstake(config: Config, amount: Amount | None, as_json: bool) -> dict[str, Any]:
    """Set `amount` of the stake aside (None: all of it not yet pending); say when it unlocks."""
    return run_on_chain(config, _request_unstake(RegistrySession.of(config), amount, as_json))


def complete_unstake(config: Config, as_json: bool) -> dict[str, Any]:
    """Pay out the unlocked pending unstake; UserError saying when, if still locked."""
    return run_on_chain(config, _complete_unstake(RegistrySession.of(config), as_json))


def report_cheat(config: Config, path: Path, as_json: bool) -> dict[str, Any]:
    """Send the CheatReport in file `path` (its canonical encoding); say what was slashed."""
    report = read_report(path)
    return run_on_chain(config, _report_cheat(RegistrySession.of(config), report, as_json))


def read_report(path: Path) -> CheatReport:
    """The CheatReport a file holds; UserError naming the file and the fault otherwise."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read the cheat report {path}: {exc.strerror or exc}") from None
    try:
        return CheatReport.decode(data)
    except CodecError as exc:
        raise UserError(
            f"{path} is not a cheat report ({exc}); it must hold one encoded CheatReport"
        ) from None


async def _stake(session: RegistrySession, amount: Amount, as_json: bool) -> dict[str, Any]:
    client, token, units, receipt = await send_amount(
        session, amount, "staking", RegistryClient.stake
    )
    return {
        "transaction": hex(receipt.transaction_hash),
        "staked": token.show(units, as_json),
        "stake": token.show(await client.stake_of(), as_json),
    }


async def _request_unstake(
    session: RegistrySession, amount: Amount | None, as_json: bool
) -> dict[str, Any]:
    client, token = await session.connect()
    if amount is None:
        units = await client.stake_of() - (await client.pending_unstake()).amount
        if units == 0:
            raise UserError("nothing left to unstake: see `node unstake --complete`")
    else:
        units = amount.base_units(token.decimals)
    async with progress(f"requesting to unstake {token.format(units)}"):
        receipt = await refusal_explained(client.request_unstake(units))
    pending = await client.pending_unstake()
    return {
        "transaction": hex(receipt.transaction_hash),
        "pending_unstake": token.show(pending.amount, as_json),
        "unlock_at": describe_time(pending.unlock_at),
        "complete_with": "node unstake --complete",
    }


async def _complete_unstake(session: RegistrySession, as_json: bool) -> dict[str, Any]:
    client, token = await session.connect()
    pending = await client.pending_unstake()
    try:
        async with progress(f"unstaking {token.format(pending.amount)}"):
            receipt = await client.unstake()
    except Refused as refused:
        if refused.refusal == Refusal.NO_UNSTAKE_PENDING:
            raise UserError("no unstake is pending: request one with `node unstake [AMOUNT]`"
                            ) from None
        if refused.refusal != Refusal.UNSTAKE_LOCKED:
            raise
        raise still_locked(f"the unstake of {token.format(pending.amount)}", pending.unlock_at,
                           "node unstake --complete") from None
    return {
        "transaction": hex(receipt.transaction_hash),
        "unstaked": token.show(pending.amount, as_json),
        "stake": token.show(await client.stake_of(), as_json),
    }


async def _report_cheat(
    session: RegistrySession, report: CheatReport, as_json: bool
) -> dict[str, Any]:
    client, token = await session.connect()
    executor = report.session.session.executor
    async with progress(f"reporting executor {hex(executor)}"):
        receipt = await client.report_cheat(report)
    [event] = [e for e in registry_events_in(receipt.events, session.registry)
               if isinstance(e, CheatReported)]
    return {
        "transaction": hex(receipt.transaction_hash),
        "job_hash": hex(event.job_hash),
        "executor": hex(event.executor),
        "slashed": token.show(event.slashed, as_json),
        "reporter_share": token.show(event.slashed // 2, as_json),
    }
