"""Print the Registry's events one line each, resumable from a named cursor, until caught up or
(following) until SIGINT/SIGTERM: the chain side of `node events`."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from node.config import Config
from node.cursor_files import cursor_path, load_cursor, save_cursor
from node.errors import UserError
from node.registry_access import Token, checked_client, describe_time, read_token, run_on_chain
from node.wallet import contract_address
from registry_contract.events import EventCursor, InvalidCursor, RegistryEvent, registry_events

AMOUNT_FIELDS = ("amount", "reward", "slashed")
PARTY_FIELDS = ("account", "delegator", "executor", "reporter")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclasses.dataclass(frozen=True)
class EventQuery:
    """Which events to print and how: `types` and `account` filter (empty, None: all)."""

    types: tuple[str, ...] = ()
    account: int | None = None
    from_block: int = 0
    resume: str | None = None
    follow: bool = False
    as_json: bool = False

    def wants(self, event: RegistryEvent) -> bool:
        if self.types and type(event).__name__ not in self.types:
            return False
        parties = [getattr(event, field) for field in PARTY_FIELDS if hasattr(event, field)]
        return self.account is None or self.account in parties


def print_events(config: Config, query: EventQuery) -> int:
    """Print the events `query` asks for; return how many. The cursor is saved after each."""
    registry = contract_address(config, "registry")
    cursor_file = None if query.resume is None else cursor_path(config.data_dir, query.resume)
    start = (load_cursor(cursor_file) if cursor_file else None) or EventCursor(query.from_block)
    printed = run_on_chain(config, _print_events(config, registry, start, cursor_file, query))
    where = f"; cursor in {cursor_file}" if cursor_file else ""
    print(f"{printed} events printed{where}", file=sys.stderr)
    return printed


async def _print_events(
    config: Config, registry: int, start: EventCursor, cursor_file: Path | None, query: EventQuery
) -> int:
    client = await checked_client(config)
    token = await read_token(client, registry)
    until = None if query.follow else await client.get_block_number()
    printed = 0
    with _stopped_by_signals():
        try:
            async for event, cursor in registry_events(client, registry, start, until_block=until):
                if query.wants(event):
                    print(_line(event, token, query.as_json), flush=True)
                    printed += 1
                if cursor_file:
                    save_cursor(cursor_file, cursor)
        except asyncio.CancelledError:
            pass
        except BrokenPipeError:  # the reader went away (`node events --follow | head`)
            _discard_stdout()
        except InvalidCursor as exc:
            raise UserError(f"{exc}; delete {cursor_file} and pass --from-block") from None
    return printed


@contextlib.contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """Within: SIGINT and SIGTERM cancel the current task at an await, never mid-print."""
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    assert task is not None
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, task.cancel)
    try:
        yield
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)


def _discard_stdout() -> None:
    """Point stdout at /dev/null so that the exit's final flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _line(event: RegistryEvent, token: Token, as_json: bool) -> str:
    """`Deposited account=0x… amount=1.5 STRK`, or a JSON object with base units."""
    fields = {name: _show(name, value, token, as_json)
              for name, value in dataclasses.asdict(event).items()}
    kind = type(event).__name__
    if as_json:
        return json.dumps({"type": kind, **fields})
    return " ".join([kind, *(f"{name}={value}" for name, value in fields.items())])


def _show(name: str, value: Any, token: Token, as_json: bool) -> Any:
    if name in AMOUNT_FIELDS:
        return token.show(value, as_json)
    if name == "unlock_at":
        return value if as_json else describe_time(value)
    if name == "output":
        return [hex(felt) for felt in value] if as_json else ",".join(map(hex, value))
    return hex(value)
