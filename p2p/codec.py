"""Canonical msgpack encoding and strict decoding of wire messages.

A wire message is a frozen dataclass (a `WireMessage`) whose fields each carry a `Kind`: how
the value travels and which values are allowed. A message encodes as one msgpack map: `type`
(the message's name), `v` (the protocol version), then every field in declaration order.
Integers that can exceed 64 bits (felts, u128, u256) travel as fixed-width big-endian binaries,
because msgpack cannot hold integers of 2**64 or more.

Decoding accepts only the canonical encoding of a valid message: anything else (not msgpack,
wrong type or version, a missing, extra or mistyped field, a value out of range, a size over its
limit, a non-minimal or reordered encoding) raises `CodecError`, which names the field. Nothing
else escapes a decoder, whatever the bytes.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar

import msgpack

from p2p.stark import STARK_PRIME

PROTOCOL_VERSION = 1
"""The wire protocol version this code speaks (also the SNIP-12 domain version)."""

M = TypeVar("M", bound="WireMessage")


class CodecError(ValueError):
    """A message that cannot be encoded or decoded; `field` names where (`job_header.reward`)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Kind(ABC):
    """How one field travels on the wire and which values it admits."""

    snip12_type: str | None = None
    """The field's SNIP-12 type when the message is signed as typed data."""

    @abstractmethod
    def check(self, value: Any, field: str) -> None:
        """Raise CodecError unless `value` is a valid Python value for this field."""

    @abstractmethod
    def to_wire(self, value: Any) -> Any:
        """The msgpack-ready form of a checked value."""

    @abstractmethod
    def from_wire(self, raw: Any, field: str) -> Any:
        """The Python value of a decoded msgpack object (checked afterwards by `check`)."""


def _describe(raw: Any) -> str:
    return type(raw).__name__


def _require(raw: Any, wire_type: type, field: str, what: str) -> None:
    if not isinstance(raw, wire_type) or isinstance(raw, bool):
        raise CodecError(field, f"expected {what}, got {_describe(raw)}")


class Uint(Kind):
    """An unsigned integer of `bits` bits: a msgpack int up to 64 bits, big-endian bytes above."""

    def __init__(self, bits: int, snip12_type: str | None, upper: int | None = None) -> None:
        self.bits = bits
        self.width = bits // 8
        self.upper = upper if upper is not None else 2**bits
        self.snip12_type = snip12_type

    def check(self, value: Any, field: str) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            raise CodecError(field, f"expected an integer, got {_describe(value)}")
        if not 0 <= value < self.upper:
            raise CodecError(field, f"{value} is out of range [0, {self.upper:#x})")

    def to_wire(self, value: int) -> int | bytes:
        return value if self.bits <= 64 else value.to_bytes(self.width, "big")

    def from_wire(self, raw: Any, field: str) -> int:
        if self.bits <= 64:
            _require(raw, int, field, "an integer")
            return raw
        _require(raw, bytes, field, f"{self.width} big-endian bytes")
        if len(raw) != self.width:
            raise CodecError(field, f"expected {self.width} bytes, got {len(raw)}")
        return int.from_bytes(raw, "big")


def felt(snip12_type: str = "felt") -> Uint:
    """A field element of the Stark field (below STARK_PRIME), as 32 bytes."""
    return Uint(256, snip12_type, upper=STARK_PRIME)


class Digest(Kind):
    """A 32-byte SHA-256 digest (bytes); b"" too when `optional`. SNIP-12: a u256."""

    snip12_type = "u256"

    def __init__(self, optional: bool = False) -> None:
        self.optional = optional

    def check(self, value: Any, field: str) -> None:
        if not isinstance(value, bytes):
            raise CodecError(field, f"expected bytes, got {_describe(value)}")
        if len(value) != 32 and not (self.optional and not value):
            allowed = "32 bytes or none" if self.optional else "32 bytes"
            raise CodecError(field, f"expected {allowed}, got {len(value)}")

    def to_wire(self, value: bytes) -> bytes:
        return value

    def from_wire(self, raw: Any, field: str) -> bytes:
        _require(raw, bytes, field, "bytes")
        return raw


class Blob(Kind):
    """Opaque bytes up to `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes

    def check(self, value: Any, field: str) -> None:
        if not isinstance(value, bytes):
            raise CodecError(field, f"expected bytes, got {_describe(value)}")
        if len(value) > self.max_bytes:
            raise CodecError(field, f"{len(value)} bytes exceeds the limit of {self.max_bytes}")

    def to_wire(self, value: bytes) -> bytes:
        return value

    def from_wire(self, raw: Any, field: str) -> bytes:
        _require(raw, bytes, field, "bytes")
        return raw


class JsonObject(Blob):
    """UTF-8 JSON text of one object, up to `max_bytes`, kept as the bytes given."""

    def check(self, value: Any, field: str) -> None:
        super().check(value, field)
        try:
            parsed = json.loads(value)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise CodecError(field, f"not UTF-8 JSON ({exc.__class__.__name__})") from None
        if not isinstance(parsed, dict):
            raise CodecError(field, f"expected a JSON object, got {_describe(parsed)}")


class Text(Kind):
    """A short string of printable ASCII, up to `max_chars`."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars

    def check(self, value: Any, field: str) -> None:
        if not isinstance(value, str):
            raise CodecError(field, f"expected a string, got {_describe(value)}")
        if len(value) > self.max_chars:
            raise CodecError(
                field, f"{len(value)} characters exceeds the limit of {self.max_chars}"
            )
        if not (value.isascii() and value.isprintable()):
            raise CodecError(field, "expected printable ASCII")

    def to_wire(self, value: str) -> str:
        return value

    def from_wire(self, raw: Any, field: str) -> str:
        _require(raw, str, field, "a string")
        return raw


def _check_tuple(value: Any, field: str, max_items: int) -> None:
    if not isinstance(value, tuple):
        raise CodecError(field, f"expected a tuple, got {_describe(value)}")
    if len(value) > max_items:
        raise CodecError(field, f"{len(value)} items exceeds the limit of {max_items}")


class FeltList(Kind):
    """Up to `max_items` felts, held as a tuple of ints."""

    snip12_type = "felt*"

    def __init__(self, max_items: int) -> None:
        self.max_items = max_items
        self.item = felt()

    def check(self, value: Any, field: str) -> None:
        _check_tuple(value, field, self.max_items)
        for index, item in enumerate(value):
            self.item.check(item, f"{field}[{index}]")

    def to_wire(self, value: tuple[int, ...]) -> list[bytes]:
        return [self.item.to_wire(item) for item in value]

    def from_wire(self, raw: Any, field: str) -> tuple[int, ...]:
        _require(raw, list, field, "a list")
        if len(raw) > self.max_items:
            raise CodecError(field, f"{len(raw)} items exceeds the limit of {self.max_items}")
        return tuple(self.item.from_wire(item, f"{field}[{i}]") for i, item in enumerate(raw))


def _check_volume_names(names: list[Any], field: str, name_kind: Text, ordered: bool) -> None:
    for index, name in enumerate(names):
        name_kind.check(name, f"{field}[{index}].name")
        if not name or not all(c.isalnum() or c == "_" for c in name):
            raise CodecError(f"{field}[{index}].name", "expected letters, digits and _")
    if len(set(names)) != len(names) or (ordered and names != sorted(names)):
        raise CodecError(field, "names must be unique and sorted" if ordered
                         else "names must be unique")


class VolumeNames(Kind):
    """Up to `max_items` volume names, unique, in the order they were declared (a tuple of str).

    Names are program input keys: 1 to `max_name_chars` of letters, digits and `_`.
    """

    def __init__(self, max_items: int, max_name_chars: int) -> None:
        self.max_items = max_items
        self.name = Text(max_name_chars)

    def check(self, value: Any, field: str) -> None:
        _check_tuple(value, field, self.max_items)
        _check_volume_names(list(value), field, self.name, ordered=False)

    def to_wire(self, value: tuple[str, ...]) -> list[str]:
        return list(value)

    def from_wire(self, raw: Any, field: str) -> tuple[str, ...]:
        _require(raw, list, field, "a list")
        if len(raw) > self.max_items:
            raise CodecError(field, f"{len(raw)} items exceeds the limit of {self.max_items}")
        return tuple(self.name.from_wire(item, f"{field}[{i}].name") for i, item in enumerate(raw))


class VolumeRefs(Kind):
    """Named content references: a tuple of (name, 32-byte sha256) pairs, sorted by name
    (or, unless `sorted_names`, in the order they were declared).

    Names are program input keys: 1 to `max_name_chars` of letters, digits and `_`.
    """

    def __init__(self, max_items: int, max_name_chars: int, sorted_names: bool = True) -> None:
        self.max_items = max_items
        self.name = Text(max_name_chars)
        self.digest = Digest()
        self.sorted_names = sorted_names

    def check(self, value: Any, field: str) -> None:
        _check_tuple(value, field, self.max_items)
        for index, item in enumerate(value):
            if not isinstance(item, tuple) or len(item) != 2:
                raise CodecError(f"{field}[{index}]", "expected a (name, digest) pair")
            self.digest.check(item[1], f"{field}[{index}].digest")
        _check_volume_names([name for name, _ in value], field, self.name, self.sorted_names)

    def to_wire(self, value: tuple[tuple[str, bytes], ...]) -> list[list[Any]]:
        return [[name, digest] for name, digest in value]

    def from_wire(self, raw: Any, field: str) -> tuple[tuple[str, bytes], ...]:
        _require(raw, list, field, "a list")
        if len(raw) > self.max_items:
            raise CodecError(field, f"{len(raw)} items exceeds the limit of {self.max_items}")
        pairs = []
        for index, item in enumerate(raw):
            _require(item, list, f"{field}[{index}]", "a [name, digest] pair")
            if len(item) != 2:
                raise CodecError(f"{field}[{index}]", "expected a [name, digest] pair")
            name = self.name.from_wire(item[0], f"{field}[{index}].name")
            pairs.append((name, self.digest.from_wire(item[1], f"{field}[{index}].digest")))
        return tuple(pairs)


class Nested(Kind):
    """Another wire message, inline."""

    def __init__(self, message_type: type[WireMessage]) -> None:
        self.message_type = message_type

    def check(self, value: Any, field: str) -> None:
        if type(value) is not self.message_type:
            expected = self.message_type.__name__
            raise CodecError(field, f"expected a {expected}, got {_describe(value)}")

    def to_wire(self, value: WireMessage) -> dict[str, Any]:
        return _to_wire(value)

    def from_wire(self, raw: Any, field: str) -> WireMessage:
        return _from_wire(self.message_type, raw, field)


def wire(kind: Kind, default: Any = dataclasses.MISSING) -> Any:
    """Declare a dataclass field of a WireMessage with its wire kind (and a default, which
    spares callers only: on the wire every field is always present)."""
    return dataclasses.field(default=default, metadata={"wire": kind})


@functools.cache
def wire_fields(message_type: type[WireMessage]) -> Sequence[tuple[str, Kind]]:
    """(name, kind) of every field of a message type, in wire order."""
    return tuple((f.name, f.metadata["wire"]) for f in dataclasses.fields(message_type))


@dataclasses.dataclass(frozen=True)
class WireMessage:
    """Base of every wire message: validated on construction, canonical on the wire."""

    TYPE: ClassVar[str]
    MAX_BYTES: ClassVar[int]

    def __post_init__(self) -> None:
        for name, kind in wire_fields(type(self)):
            kind.check(getattr(self, name), f"{self.TYPE}.{name}")

    def encode(self) -> bytes:
        """The canonical bytes of this message."""
        return msgpack.packb(_to_wire(self), use_bin_type=True)

    @classmethod
    def decode(cls: type[M], data: bytes) -> M:
        """Decode canonical bytes; raises CodecError (naming the field) for anything else."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise CodecError(cls.TYPE, f"expected bytes, got {_describe(data)}")
        data = bytes(data)
        if len(data) > cls.MAX_BYTES:
            raise CodecError(cls.TYPE, f"{len(data)} bytes exceeds the limit of {cls.MAX_BYTES}")
        raw = _unpack(data, cls.TYPE)
        message = _from_wire(cls, raw, cls.TYPE)
        if message.encode() != data:
            raise CodecError(cls.TYPE, "not in canonical encoding")
        return message


def _reject_ext(code: int, data: bytes) -> Any:
    raise CodecError("<msgpack>", f"extension type {code} is not allowed")


def _unpack(data: bytes, field: str) -> Any:
    try:
        return msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            ext_hook=_reject_ext,
            timestamp=0,
        )
    except CodecError as exc:
        raise CodecError(field, exc.reason) from None
    except Exception as exc:  # any malformed input: msgpack raises many types
        raise CodecError(field, f"not valid msgpack ({exc.__class__.__name__}: {exc})") from None


def _to_wire(message: WireMessage) -> dict[str, Any]:
    encoded: dict[str, Any] = {"type": message.TYPE, "v": PROTOCOL_VERSION}
    for name, kind in wire_fields(type(message)):
        encoded[name] = kind.to_wire(getattr(message, name))
    return encoded


def _from_wire(message_type: type[M], raw: Any, path: str) -> M:
    if not isinstance(raw, dict):
        raise CodecError(path, f"expected a map, got {_describe(raw)}")
    if raw.get("type") != message_type.TYPE:
        got = str(raw.get("type", "<missing>"))[:40]
        raise CodecError(f"{path}.type", f"expected {message_type.TYPE!r}, got {got!r}")
    version = raw.get("v")
    if type(version) is not int or version != PROTOCOL_VERSION:
        raise CodecError(
            f"{path}.v",
            f"unsupported protocol version {str(version)[:40]} (this "
            f"node speaks {PROTOCOL_VERSION}); upgrade the node or the sender",
        )
    fields = wire_fields(message_type)
    expected = ("type", "v", *(name for name, _ in fields))
    for key in raw:
        if key not in expected:
            raise CodecError(f"{path}.{str(key)[:40]}", "unexpected field")
    for key in expected:
        if key not in raw:
            raise CodecError(f"{path}.{key}", "missing field")
    values = {name: kind.from_wire(raw[name], f"{path}.{name}") for name, kind in fields}
    return message_type(**values)
