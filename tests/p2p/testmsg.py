"""A test-only gossip message format with the checks a real header gets.

JSON {"n", "chain", "expires", "sig"} where sig = HMAC-SHA256(key, "n|chain|expires"). The real
decoders (SNIP-12 headers) plug into the same TopicValidator slot.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from libp2p.peer.id import ID

from p2p.validation import Verdict

CHAIN = "SN_TEST"
KEY = b"test-delegator-key"


def _sig(n: int, chain: str, expires: float, key: bytes) -> str:
    return hmac.new(key, f"{n}|{chain}|{expires}".encode(), hashlib.sha256).hexdigest()


def make_header(
    n: int, chain: str = CHAIN, ttl: float = 600.0, key: bytes = KEY, pad: int = 0
) -> bytes:
    """A signed test header; `pad` adds filler bytes to reach a given size."""
    expires = round(time.time() + ttl, 3)
    body = {"n": n, "chain": chain, "expires": expires, "sig": _sig(n, chain, expires, key)}
    if pad:
        body["pad"] = "x" * pad
    return json.dumps(body).encode()


def header_number(data: bytes) -> int:
    """The sequence number of a test header."""
    return json.loads(data)["n"]


def validate_header(data: bytes, origin: ID) -> Verdict:
    """Decode and check a test header: signature, chain, expiry."""
    try:
        body = json.loads(data)
        n, chain, expires, sig = body["n"], body["chain"], body["expires"], body["sig"]
    except (ValueError, KeyError, TypeError):
        return Verdict.reject("undecodable header")
    if not hmac.compare_digest(str(sig), _sig(n, chain, expires, KEY)):
        return Verdict.reject("bad signature")
    if chain != CHAIN:
        return Verdict.reject("wrong chain")
    if expires < time.time():
        return Verdict.reject("expired")
    return Verdict.accept()
