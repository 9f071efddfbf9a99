"""Frames on the pipe between the pool and its workers: 4-byte big-endian length, then JSON."""

from __future__ import annotations

import json
import struct
from typing import Any, BinaryIO

HEADER = struct.Struct(">I")
MAX_FRAME = 256 * 1024**2


class FrameError(Exception):
    """A frame that is too large or not JSON: the peer is broken and must be restarted."""


def encode(message: dict[str, Any]) -> bytes:
    """One frame holding `message` as JSON."""
    payload = json.dumps(message, separators=(",", ":")).encode()
    if len(payload) > MAX_FRAME:
        raise FrameError(f"frame of {len(payload)} bytes exceeds {MAX_FRAME}")
    return HEADER.pack(len(payload)) + payload


def payload_size(header: bytes) -> int:
    """The payload length announced by a frame header."""
    (size,) = HEADER.unpack(header)
    if size > MAX_FRAME:
        raise FrameError(f"frame of {size} bytes exceeds {MAX_FRAME}")
    return size


def decode(payload: bytes) -> dict[str, Any]:
    """The message of a frame payload."""
    try:
        message = json.loads(payload)
    except ValueError as err:
        raise FrameError(f"frame is not JSON: {err}") from None
    if not isinstance(message, dict):
        raise FrameError("frame is not a JSON object")
    return message


def read_frame(stream: BinaryIO) -> dict[str, Any] | None:
    """Reads one frame from a blocking stream; None at a clean end of stream."""
    header = stream.read(HEADER.size)
    if not header:
        return None
    if len(header) < HEADER.size:
        raise FrameError("stream ended inside a frame header")
    size = payload_size(header)
    payload = stream.read(size)
    if len(payload) < size:
        raise FrameError("stream ended inside a frame")
    return decode(payload)
