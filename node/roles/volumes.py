"""Volumes: content-addressed JSON values, in the DHT under `/zetina-volume/<sha256>`.

Input volumes: a delegator names each volume in the job body as (name, sha256 of its bytes) and
offers the bytes like the body. Before a run, the executor (and a validator before
re-executing) fetches every volume, which the content store only returns when its bytes hash to
the key; the value, UTF-8 JSON, is given to the program as `program_input[name]`. A volume that
cannot be fetched, does not match its hash, is not JSON, or whose name is already a key of the
program input refuses the job before any step runs.

Output volumes: a body that declares output volume names has its program write its output as
one length-prefixed section per name, in order: `n_1, felts_1..., n_2, felts_2...`. The executor
stores each section as a volume (a JSON list of ints: the very format of an input volume, so a
next job can read it) and its witness carries their hashes and `poseidon(output)`, on which the
Registry pays; the output itself stays off chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import trio
from libp2p.peer.id import ID

from cairo_jobs.facts import STARK_PRIME, output_digest
from p2p import limits, params
from p2p.content import ContentStore, NotFound
from p2p.messages import JobBody
from p2p.records import digest_key


class VolumeError(ValueError):
    """A volume the run cannot have or make; the message says which and why."""


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
        values[name] = _parse(name, await _fetch(content, "input", name, digest, publisher))
    return values


async def _fetch(
    content: ContentStore, kind: str, name: str, digest: bytes, publisher: ID | None
) -> bytes:
    """The bytes of a volume, which the content store checked against `digest`."""
    try:
        with trio.fail_after(params.FETCH_TIMEOUT + params.DHT_GET_TIMEOUT):
            return await content.get(digest_key(params.NS_VOLUME, digest), publisher)
    except (NotFound, trio.TooSlowError) as error:
        raise VolumeError(
            f"{kind} volume {name!r} ({digest.hex()}): no peer served bytes with that "
            f"sha256 ({type(error).__name__})"
        ) from error


def program_input_with(body: JobBody, volumes: Mapping[str, Any]) -> bytes:
    """The body's program input with each volume under its name (UTF-8 JSON)."""
    if not volumes:
        return body.program_input
    program_input = json.loads(body.program_input)
    clash = sorted(set(volumes) & set(program_input))
    if clash:
        raise VolumeError(f"input volume names {clash} are already program input keys")
    return json.dumps({**program_input, **volumes}).encode()


def _parse(name: str, data: bytes, kind: str = "input") -> Any:
    if len(data) > limits.MAX_VOLUME_BYTES:
        raise VolumeError(
            f"{kind} volume {name!r} has {len(data)} bytes, over {limits.MAX_VOLUME_BYTES}")
    try:
        return json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise VolumeError(f"{kind} volume {name!r} is not UTF-8 JSON ({error})") from None


def output_sections(names: Sequence[str], output: Sequence[int]) -> dict[str, list[int]]:
    """Split a program's output into its declared sections: name -> felts.

    The output must be exactly `n_1, felts_1..., n_2, felts_2...`, one section per name, in
    order; anything else raises VolumeError saying where it differs.
    """
    sections: dict[str, list[int]] = {}
    at = 0
    for name in names:
        if at >= len(output):
            raise VolumeError(f"the output ends ({len(output)} felts) before the length of "
                              f"output volume {name!r}")
        length, at = output[at], at + 1
        if length > len(output) - at:
            raise VolumeError(f"output volume {name!r} declares {length} felts at offset "
                              f"{at - 1}; the output has {len(output) - at} left")
        sections[name], at = list(output[at:at + length]), at + length
    if at != len(output):
        raise VolumeError(f"the output has {len(output) - at} felts after its last declared "
                          f"volume; write exactly one length-prefixed section per output volume")
    return sections


def joined_output(sections: Sequence[Sequence[int]]) -> list[int]:
    """The program output the sections came from: `n_1, felts_1..., n_2, felts_2...`."""
    return [felt for section in sections for felt in (len(section), *section)]


def volume_bytes(felts: Sequence[int]) -> bytes:
    """A section's content as a volume: a compact JSON list of ints (UTF-8)."""
    return json.dumps(list(felts), separators=(",", ":")).encode()


def output_volume_refs(sections: Mapping[str, Sequence[int]]) -> tuple[tuple[str, bytes], ...]:
    """A witness's `output_volumes`: (name, sha256 of the volume's bytes), in section order."""
    refs = []
    for name, felts in sections.items():
        data = volume_bytes(felts)
        if len(data) > limits.MAX_VOLUME_BYTES:
            raise VolumeError(f"output volume {name!r} has {len(data)} bytes, over "
                              f"{limits.MAX_VOLUME_BYTES}; split it into more volumes")
        refs.append((name, hashlib.sha256(data).digest()))
    return tuple(refs)


def offer_output_volumes(content: ContentStore, sections: Mapping[str, Sequence[int]]) -> None:
    """Serve every section as a volume from this node and announce it in the DHT."""
    for felts in sections.values():
        content.offer(params.NS_VOLUME, volume_bytes(felts))


@dataclass(frozen=True)
class OutputVolume:
    """One fetched output volume: its bytes (whose sha256 the witness names) and its felts."""

    name: str
    data: bytes
    felts: list[int]


async def load_output_volumes(
    content: ContentStore, refs: Sequence[tuple[str, bytes]], publisher: ID | None = None
) -> list[OutputVolume]:
    """Fetch a witness's output volumes, in order, each checked against its sha256."""
    volumes = []
    for name, digest in refs:
        data = await _fetch(content, "output", name, digest, publisher)
        value = _parse(name, data, "output")
        if not isinstance(value, list) or not all(_is_felt(item) for item in value):
            raise VolumeError(f"output volume {name!r} is not a JSON list of felts")
        volumes.append(OutputVolume(name, data, value))
    return volumes


async def checked_output_volumes(
    content: ContentStore,
    refs: Sequence[tuple[str, bytes]],
    names: Sequence[str],
    digest: int,
    publisher: ID | None = None,
) -> list[OutputVolume]:
    """Fetch the output volumes a witness names (`refs`) and check them: they are the body's
    `names`, in order; each has its sha256; their joined sections have poseidon digest `digest`.

    Raises VolumeError, saying which check failed. Empty when the body declares none.
    """
    if tuple(name for name, _ in refs) != tuple(names):
        raise VolumeError(f"the witness's output volumes {[name for name, _ in refs]} are not "
                          f"the body's {list(names)}")
    volumes = await load_output_volumes(content, refs, publisher)
    if volumes and output_digest(joined_output([v.felts for v in volumes])) != digest:
        raise VolumeError("the output volumes are not the output of digest "
                          f"{digest:#x}: their joined sections hash to another")
    return volumes


def _is_felt(value: Any) -> bool:
    return type(value) is int and 0 <= value < STARK_PRIME
