"""Input volumes: content-addressed JSON values a job's program reads from its input.

A delegator names each volume in the job body as (name, sha256 of its bytes) and offers the
bytes like the body (`/zetina-volume/<sha256>`). Before a run, the executor (and a validator
before re-executing) fetches every volume, which the content store only returns when its bytes
hash to the key; the value, UTF-8 JSON, is given to the program as `program_input[name]`. A
volume that cannot be fetched, does not match its hash, is not JSON, or whose name is already
a key of the program input refuses the job before any step runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import trio
from libp2p.peer.id import ID

from p2p import limits, params
from p2p.content import ContentStore, NotFound
from p2p.messages import JobBody
from p2p.records import digest_key


class VolumeError(ValueError):
    """An input volume the run cannot have; the message says which and why."""


def volume_refs(volumes: Mapping[str, bytes]) -> tuple[tuple[str, bytes], ...]:
    """The body's `input_volumes` for volume contents by name (each must be UTF-8 JSON)."""
    for name, data in volumes.items():
        _parse(name, data)
    return tuple(sorted((name, hashlib.sha256(data).digest()) for name, data in volumes.items()))


def offer_volumes(content: ContentStore, volumes: Mapping[str, bytes]) -> None:
    """Serve every volume from this node and announce it in the DHT."""
    for data in volumes.values():
        content.offer(params.NS_VOLUME, data)


async def load_volumes(
    content: ContentStore, body: JobBody, publisher: ID | None = None
) -> dict[str, Any]:
    """Fetch and check the body's input volumes: name -> the JSON value."""
    values: dict[str, Any] = {}
    for name, digest in body.input_volumes:
        try:
            with trio.fail_after(params.FETCH_TIMEOUT + params.DHT_GET_TIMEOUT):
                data = await content.get(digest_key(params.NS_VOLUME, digest), publisher)
        except (NotFound, trio.TooSlowError) as error:
            raise VolumeError(
                f"input volume {name!r} ({digest.hex()}): no peer served bytes with that "
                f"sha256 ({type(error).__name__})"
            ) from error
        values[name] = _parse(name, data)
    return values


def program_input_with(body: JobBody, volumes: Mapping[str, Any]) -> bytes:
    """The body's program input with each volume under its name (UTF-8 JSON)."""
    if not volumes:
        return body.program_input
    program_input = json.loads(body.program_input)
    clash = sorted(set(volumes) & set(program_input))
    if clash:
        raise VolumeError(f"input volume names {clash} are already program input keys")
    return json.dumps({**program_input, **volumes}).encode()


def _parse(name: str, data: bytes) -> Any:
    if len(data) > limits.MAX_VOLUME_BYTES:
        raise VolumeError(
            f"input volume {name!r} has {len(data)} bytes, over {limits.MAX_VOLUME_BYTES}")
    try:
        return json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise VolumeError(f"input volume {name!r} is not UTF-8 JSON ({error})") from None
