"""The Fiat–Shamir channel: a BLAKE2s-256 hash chain both sides feed and draw from alike.

`absorb(data)`: state = H(state ‖ 0x01 ‖ data). `draw_*`: state = H(state ‖ 0x00), then the value
is read from the new state. Proof of work: a nonce such that H(state ‖ 0x02 ‖ nonce (8 bytes BE))
starts with `bits` zero bits; the nonce is then absorbed.
"""

from __future__ import annotations

from hashlib import blake2s
from typing import Any

from cairo_jobs.native.blake2s import first_nonce
from cairo_jobs.native.field import felts_to_bytes

_ABSORB, _DRAW, _WORK = b"\x01", b"\x00", b"\x02"
FELT_BITS = 251  # draws are uniform on [0, 2^251), almost all of [0, p)


class Channel:
    """The transcript of one proof, seeded with everything the statement says."""

    def __init__(self, seed: bytes) -> None:
        self.state = blake2s(seed).digest()

    def absorb(self, data: bytes) -> None:
        self.state = blake2s(self.state + _ABSORB + data).digest()

    def absorb_felts(self, values: list[int]) -> None:
        self.absorb(felts_to_bytes(values))

    def _draw(self) -> int:
        self.state = blake2s(self.state + _DRAW).digest()
        return int.from_bytes(self.state, "big")

    def draw_felt(self) -> int:
        """A random field element."""
        return self._draw() & ((1 << FELT_BITS) - 1)

    def draw_index(self, bound: int) -> int:
        """A random index in [0, bound) for a power-of-two bound (so without bias)."""
        return self._draw() & (bound - 1)

    def grind(self, bits: int) -> int:
        """The smallest proof-of-work nonce for `bits`; absorbs it."""
        nonce = first_nonce(self.state + _WORK, bits)
        self.absorb(nonce.to_bytes(8, "big"))
        return nonce

    def check_work(self, nonce: int, bits: int) -> bool:
        """Whether `nonce` is valid work for `bits`; absorbs it when it is."""
        if not 0 <= nonce < 2**64:
            return False
        if not _has_leading_zeros(blake2s(self.state + _WORK), nonce, bits):
            return False
        self.absorb(nonce.to_bytes(8, "big"))
        return True


def _has_leading_zeros(prefix: Any, nonce: int, bits: int) -> bool:
    attempt = prefix.copy()
    attempt.update(nonce.to_bytes(8, "big"))
    return int.from_bytes(attempt.digest(), "big") >> (256 - bits) == 0
