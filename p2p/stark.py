"""Stark-curve keys and ECDSA signatures, as Starknet accounts use them.

Two compiled wheels of the same Rust crypto code do the work, each where it measured fastest:
`fast_stark_crypto` signs (RFC 6979 deterministic nonces, the same signatures as starknet-py's
`message_signature(..., seed=None)`; ~2 000/s, 400x starknet-py) and derives public keys;
`starknet_crypto_py` verifies (~1 350/s against 870/s for the other). Neither may see an input it
rejects: one raises a pyo3 PanicException (a BaseException), the other aborts the process. So
every value is checked here first, exactly as Starknet's ECDSA rules require (message below
2**251, r and s in [1, 2**251), w = 1/s below 2**251, the public key's x on the curve), and a
value from the network only ever gets a clean `False`.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import fast_stark_crypto
import starknet_crypto_py

STARK_PRIME = 2**251 + 17 * 2**192 + 1
"""The Stark field's prime: every felt is below it."""

EC_ORDER = 0x0800000000000010FFFFFFFFFFFFFFFFB781126DCAE7B2321E66A241ADC64D2F
"""The order of the Stark curve's generator: private keys and signature scalars are below it."""

ALPHA = 1
BETA = 0x6F21413EFBE40DE150E596D72F7A8C5609AD26C15C915C1F4CDFCB99CEE9E89
"""The Stark curve: y^2 = x^3 + ALPHA * x + BETA over the Stark field."""

MAX_MESSAGE_HASH = 2**251
"""Starknet signs message hashes below 2**251 only."""


class InvalidKeyError(ValueError):
    """A private key outside [1, EC_ORDER)."""


def _check_private_key(private_key: int) -> None:
    if not isinstance(private_key, int) or not 0 < private_key < EC_ORDER:
        raise InvalidKeyError("a Stark private key must be an integer in [1, EC_ORDER)")


def public_key_of(private_key: int) -> int:
    """The public key (x coordinate) of a private key."""
    _check_private_key(private_key)
    return fast_stark_crypto.get_public_key(private_key)


def sign(private_key: int, message_hash: int) -> tuple[int, int]:
    """Sign a message hash; returns (r, s). Deterministic (RFC 6979)."""
    _check_private_key(private_key)
    if not isinstance(message_hash, int) or not 0 <= message_hash < MAX_MESSAGE_HASH:
        raise ValueError("a message hash to sign must be an integer in [0, 2**251)")
    return fast_stark_crypto.sign(private_key, message_hash)


@functools.lru_cache(maxsize=4096)
def is_on_curve(x: int) -> bool:
    """Whether some point of the Stark curve has x coordinate `x` (y^2 = x^3 + x + beta)."""
    if not 0 <= x < STARK_PRIME:
        return False
    y_squared = (x * x * x + ALPHA * x + BETA) % STARK_PRIME
    return y_squared == 0 or pow(y_squared, (STARK_PRIME - 1) // 2, STARK_PRIME) == 1


def verify(public_key: int, message_hash: int, signature: Sequence[int]) -> bool:
    """True when `signature` ([r, s]) is `public_key`'s signature of `message_hash`.

    Never raises: any malformed value (wrong length, out of range, not on the curve) is False.
    """
    if len(signature) != 2 or not all(
        isinstance(v, int) for v in (public_key, message_hash, *signature)
    ):
        return False
    r, s = signature
    if not (0 <= message_hash < MAX_MESSAGE_HASH and public_key > 0 and is_on_curve(public_key)):
        return False
    if not (0 < r < MAX_MESSAGE_HASH and 0 < s < MAX_MESSAGE_HASH):
        return False
    if pow(s, -1, EC_ORDER) >= MAX_MESSAGE_HASH:  # Starknet's rule: w = s^-1 below 2**251
        return False
    return starknet_crypto_py.verify(public_key, message_hash, r, s)


@dataclass(frozen=True, repr=False)
class StarkKeyPair:
    """A Stark private key with its public key. The repr never shows the private key."""

    private_key: int
    public_key: int

    @classmethod
    def from_private_key(cls, private_key: int) -> StarkKeyPair:
        return cls(private_key, public_key_of(private_key))

    @classmethod
    def generate(cls) -> StarkKeyPair:
        """A fresh key from the operating system's CSPRNG."""
        return cls.from_private_key(secrets.randbelow(EC_ORDER - 1) + 1)

    def sign(self, message_hash: int) -> tuple[int, int]:
        return sign(self.private_key, message_hash)

    def __repr__(self) -> str:
        return f"StarkKeyPair(public_key={self.public_key:#x})"
