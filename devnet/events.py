"""`starknet_getEvents`: filtering by address, keys and block range, with paging."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devnet.errors import (
    InvalidContinuationToken,
    InvalidParams,
    PageSizeTooBig,
    TooManyKeysInFilter,
)

MAX_CHUNK_SIZE = 1024
MAX_KEYS = 16


@dataclass(frozen=True)
class EventFilter:
    """Which events to return: address, per-position key alternatives (empty = any), blocks."""

    from_block: int
    to_block: int
    address: int | None
    keys: list[list[int]]
    chunk_size: int
    start: int

    def matches(self, event: dict[str, Any]) -> bool:
        if self.address is not None and int(event["from_address"], 16) != self.address:
            return False
        event_keys = event["keys"]
        for position, accepted in enumerate(self.keys):
            if not accepted:
                continue
            if position >= len(event_keys) or int(event_keys[position], 16) not in accepted:
                return False
        return True


def parse_chunking(chunk_size: Any, token: Any) -> tuple[int, int]:
    """Validate chunk size and continuation token; return (chunk_size, start index)."""
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise InvalidParams("chunk_size: expected a positive integer")
    if chunk_size > MAX_CHUNK_SIZE:
        raise PageSizeTooBig(f"chunk_size {chunk_size} > {MAX_CHUNK_SIZE}")
    if token is None:
        return chunk_size, 0
    if not isinstance(token, str) or not token.isdigit():
        raise InvalidContinuationToken()
    return chunk_size, int(token)


def check_keys(keys: list[list[int]]) -> None:
    if sum(len(k) for k in keys) > MAX_KEYS:
        raise TooManyKeysInFilter(f"at most {MAX_KEYS} keys")


def page(matching: list[dict[str, Any]], chunk_size: int, start: int) -> dict[str, Any]:
    """One page of `matching` events and the token of the next page, if any."""
    if start > len(matching):
        raise InvalidContinuationToken()
    end = start + chunk_size
    result: dict[str, Any] = {"events": matching[start:end]}
    if end < len(matching):
        result["continuation_token"] = str(end)
    return result
