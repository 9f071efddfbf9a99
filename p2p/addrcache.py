"""Multiaddr text parsed and formatted once: py-multiaddr redoes both on every call.

py-multiaddr 0.2 parses a text multiaddr (`Multiaddr("/ip4/127.0.0.1/tcp/4001")`, 30-40 µs)
and formats one (`str(addr)`, ~70 µs: it decodes and re-encodes every component) each time,
and py-libp2p does both many times per new connection (transport addresses of each socket,
identify's observed address, peer records, log arguments): 42 parses and 24 formats for the
two ends of one connection, about a tenth of its CPU (bench/new_connection.py). `install()`
puts a bounded cache (params.MULTIADDR_CACHE entries each, least recently used dropped) in
front of both. A multiaddr is immutable (its bytes), so a cached parse or text equals a fresh
one; text that does not parse raises every time, as before. Only the default protocol
registry is cached.
"""

from __future__ import annotations

import functools

from multiaddr import Multiaddr, protocols

from p2p import params

_parse_text = Multiaddr._from_string
_format = Multiaddr.__str__


@functools.lru_cache(maxsize=params.MULTIADDR_CACHE)
def _bytes_of(text: str) -> bytes:
    """The binary form of multiaddr `text` (StringParseError if it is none)."""
    addr = Multiaddr(b"")
    _parse_text(addr, text)
    return addr.to_bytes()


@functools.lru_cache(maxsize=params.MULTIADDR_CACHE)
def _text_of(raw: bytes) -> str:
    """The text form of the binary multiaddr `raw`."""
    return _format(Multiaddr(raw))


def _from_string(self: Multiaddr, text: str) -> None:
    if self.registry is not protocols.REGISTRY:  # type: ignore[attr-defined]
        _parse_text(self, text)
        return
    self._bytes = _bytes_of(text)  # type: ignore[attr-defined]


def _str(self: Multiaddr) -> str:
    if self.registry is not protocols.REGISTRY:  # type: ignore[attr-defined]
        return _format(self)
    return _text_of(self.to_bytes())


def install() -> None:
    """Cache multiaddr parsing and formatting in this process (idempotent)."""
    Multiaddr._from_string = _from_string  # type: ignore[method-assign]
    Multiaddr.__str__ = _str  # type: ignore[method-assign]
