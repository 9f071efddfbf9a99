"""Named event cursors kept in `<data_dir>/cursors/NAME.json`, written atomically."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path

from node.errors import UserError
from registry_contract.events import EventCursor

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class CursorNameError(UserError, ValueError):
    """A cursor name that is not a plain file name."""

    exit_code = 2


def cursor_path(data_dir: Path, name: str) -> Path:
    """Where the cursor `name` lives; CursorNameError unless the name is plain."""
    if not _NAME.fullmatch(name):
        raise CursorNameError(
            f"--resume {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit"
        )
    return data_dir / "cursors" / f"{name}.json"


def load_cursor(path: Path) -> EventCursor | None:
    """The cursor saved at `path`, None if there is none yet."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UserError(f"cannot read the cursor in {path} ({exc}); check that path") from None
    try:
        cursor = EventCursor(**json.loads(text))
        _check(cursor)
    except (TypeError, ValueError) as exc:
        raise UserError(
            f"the cursor file {path} is damaged ({exc}); delete it to start again from "
            "--from-block"
        ) from None
    return cursor


def save_cursor(path: Path, cursor: EventCursor) -> None:
    """Write `cursor` to `path` so that a crash leaves the old or the new one, never half."""
    partial = path.with_suffix(".json.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps(dataclasses.asdict(cursor)))
        os.replace(partial, path)
    except OSError as exc:
        raise UserError(
            f"cannot save the cursor in {path} ({exc}); free space or fix the folder's "
            "permissions, then resume"
        ) from None


def _check(cursor: EventCursor) -> None:
    counts = (cursor.block_number, cursor.delivered)
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts):
        raise ValueError("block_number and delivered must be counts")
    if not isinstance(cursor.continuation_token, (str, type(None))):
        raise ValueError("continuation_token must be a string or null")
