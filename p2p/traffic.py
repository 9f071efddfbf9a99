"""Bytes a host exchanged with its peers, counted where they cross the socket."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Traffic:
    """Bytes sent and received on a host's connections once their Noise handshake is done
    (Noise messages as on the wire: length prefixes and tags included)."""

    sent: int = 0
    received: int = 0
