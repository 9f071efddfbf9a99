"""Real signed job headers for the gossip tests, checked by the real header validator."""

from __future__ import annotations

import hashlib
import time

from libp2p.peer.id import ID
from starknet_py.cairo.felt import encode_shortstring

from p2p.messages import JobHeader, SignedJobHeader
from p2p.signing import sign_header
from p2p.stark import StarkKeyPair
from p2p.topic_checks import NetworkContext, header_validator
from p2p.validation import Verdict

CHAIN = encode_shortstring("SN_TEST")
REGISTRY = 0x1234
DELEGATOR = 0xD1
KEY = StarkKeyPair.from_private_key(0x5EC2E7)
FORGED = StarkKeyPair.from_private_key(0xBAD)

validate_header = header_validator(NetworkContext(CHAIN, REGISTRY), {DELEGATOR: KEY.public_key}.get)


def make_header(
    n: int, chain: str = "SN_TEST", ttl: float = 600.0, key: StarkKeyPair = KEY
) -> bytes:
    """Header number `n` (its nonce), signed by `key`, expiring in `ttl` seconds."""
    header = JobHeader(
        chain_id=encode_shortstring(chain),
        registry=REGISTRY,
        delegator=DELEGATOR,
        body_id=n.to_bytes(32, "big"),
        program_hash=0x55,
        max_steps=10**6,
        reward=10**15,
        deadline=int(time.time() + ttl),
        nonce=n,
    )
    return sign_header(header, key).encode()


def header_number(data: bytes) -> int:
    """The number of a test header."""
    return SignedJobHeader.decode(data).header.nonce


def make_large_payload(n: int, size: int) -> bytes:
    """`size` bytes ending in the sha256 of the rest, so any corruption is detectable."""
    filler = bytes([n % 256]) * (size - 32)
    return filler + hashlib.sha256(filler).digest()


def validate_intact(data: bytes, origin: ID) -> Verdict:
    """Accepts a large test payload only if its trailing digest matches."""
    if hashlib.sha256(data[:-32]).digest() != data[-32:]:
        return Verdict.reject("corrupted payload")
    return Verdict.accept()
