"""Writing the deployed contract addresses into a config file's `[contracts]` table.

The file is edited in place, line by line, so its comments and other tables survive; the result
is parsed again before it replaces the original (atomically), so a bad edit never lands.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import tomli

CONTRACT_KEYS = ("token", "registry", "fact_registry")
_TABLE = re.compile(r"^\s*\[([^\]]+)\]\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")


class ConfigFileError(ValueError):
    """The config file cannot be read or updated; the message names the file and the fix."""


def write_contract_addresses(path: Path, addresses: Mapping[str, int]) -> None:
    """Set `[contracts]` keys (token, registry, fact_registry) in the TOML file at `path`."""
    unknown = set(addresses) - set(CONTRACT_KEYS)
    if unknown:
        raise ConfigFileError(f"unknown contract keys {sorted(unknown)}; use {CONTRACT_KEYS}")
    text = _read(path)
    updated = _set_keys(text.splitlines(), {k: hex(v) for k, v in addresses.items()})
    try:
        tomli.loads(updated)
    except tomli.TOMLDecodeError as exc:
        raise ConfigFileError(f"{path}: [contracts] is written in a form this tool cannot edit "
                              f"({exc}); make it a plain [contracts] table") from None
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(updated)
    os.replace(temporary, path)


def _read(path: Path) -> str:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigFileError(f"cannot read config {path}: {exc.strerror}") from None
    try:
        tomli.loads(text)
    except tomli.TOMLDecodeError as exc:
        raise ConfigFileError(f"{path} is not valid TOML ({exc}); fix it first") from None
    return text


def _set_keys(lines: list[str], values: Mapping[str, str]) -> str:
    start = next((i for i, line in enumerate(lines) if _table(line) == "contracts"), None)
    if start is None:
        lines = [*lines, "", "[contracts]"]
        start = len(lines) - 1
    end = next((i for i in range(start + 1, len(lines)) if _table(lines[i])), len(lines))
    missing = dict(values)
    for i in range(start + 1, end):
        match = _KEY.match(lines[i])
        if match and match.group(1) in missing:
            lines[i] = f'{match.group(1)} = "{missing.pop(match.group(1))}"'
    insert_at = end
    while insert_at > start + 1 and not lines[insert_at - 1].strip():
        insert_at -= 1
    lines[insert_at:insert_at] = [f'{key} = "{value}"' for key, value in missing.items()]
    return "\n".join(lines) + "\n"


def _table(line: str) -> str | None:
    match = _TABLE.match(line)
    return match.group(1).strip() if match else None
