"""Signed peer records verified once: py-libp2p checks the signature of every copy it gets.

A signed peer record (an Envelope: a peer's addresses signed with its identity key) travels
with every DHT request and answer (the sender's, and one per peer an answer names) and with
identify; py-libp2p verifies each copy (~80 µs of Ed25519), and the same records come again
and again: the closer peers of a GET_VALUE answer are those of the GET_PROVIDERS answer beside
it, and a node meets the same peers' records in every lookup. `install()` puts a bounded cache
(params.PEER_RECORD_CACHE signatures, least recently used dropped) in front of
`Envelope.validate`: a signature already found valid over exactly the same key, domain,
payload type and payload is not verified again. Only valid signatures are remembered: a forged
or altered record (any byte of its key, payload or signature changed) is verified, and
refused, every time.
"""

from __future__ import annotations

from collections import OrderedDict

from libp2p.peer.envelope import Envelope

from p2p import params

Signed = tuple[str, int, bytes, bytes, bytes, bytes]
"""(domain, key type, public key, payload type, payload, signature) of one envelope."""

_validate = Envelope.validate
_verified: OrderedDict[Signed, None] = OrderedDict()


def _signed(envelope: Envelope, domain: str) -> Signed:
    key = envelope.public_key
    return (
        domain,
        key.get_type().value,
        key.to_bytes(),
        envelope.payload_type,
        envelope.raw_payload,
        envelope.signature,
    )


def _validate_once(envelope: Envelope, domain: str) -> None:
    """Envelope.validate, skipped for a signature found valid before (ValueError if forged)."""
    signed = _signed(envelope, domain)
    if signed in _verified:
        _verified.move_to_end(signed)
        return
    _validate(envelope, domain)
    _verified[signed] = None
    if len(_verified) > params.PEER_RECORD_CACHE:
        _verified.popitem(last=False)


def install() -> None:
    """Verify each signed peer record once in this process (idempotent)."""
    Envelope.validate = _validate_once  # type: ignore[method-assign]
