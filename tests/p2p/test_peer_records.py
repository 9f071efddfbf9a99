"""Signed peer records verified once: a record seen valid is accepted again, a forged or
altered one is refused every time, and the cache stays bounded."""

from __future__ import annotations

import pytest
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.envelope import Envelope, consume_envelope
from libp2p.peer.id import ID
from libp2p.peer.peerstore import create_signed_peer_record
from multiaddr import Multiaddr

from p2p import peer_records

DOMAIN = "libp2p-peer-record"


def signed_record(port: int = 4001) -> bytes:
    """A real signed peer record (its envelope's bytes) of a new identity."""
    keys = create_new_key_pair()
    addrs = [Multiaddr(f"/ip4/127.0.0.1/tcp/{port}")]
    return create_signed_peer_record(ID.from_pubkey(keys.public_key), addrs, keys.private_key)


def altered(envelope: Envelope, **fields: bytes) -> bytes:
    """`envelope`'s bytes with some of its fields replaced (its signature left as it was)."""
    parts = {
        "public_key": envelope.public_key,
        "payload_type": envelope.payload_type,
        "raw_payload": envelope.raw_payload,
        "signature": envelope.signature,
    } | fields
    return Envelope(**parts).marshal_envelope()  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def cached_verification() -> None:
    peer_records.install()


def test_a_valid_record_is_accepted_again_with_the_same_peer_and_addresses():
    raw = signed_record().marshal_envelope()
    first = consume_envelope(raw, DOMAIN)[1]
    again = consume_envelope(raw, DOMAIN)[1]  # from the cache
    assert (again.peer_id, again.addrs) == (first.peer_id, first.addrs)


def test_a_forged_or_altered_record_is_refused_every_time_even_after_the_genuine_one():
    genuine = signed_record()
    consume_envelope(genuine.marshal_envelope(), DOMAIN)
    other = signed_record(4002)
    forgeries = {
        "signature changed": altered(genuine, signature=bytes(64)),
        "payload changed": altered(genuine, raw_payload=other.raw_payload),
        "someone else's key": altered(genuine, public_key=other.public_key),
    }
    for raw in forgeries.values():
        for _ in range(2):
            with pytest.raises(ValueError, match="Invalid envelope signature"):
                consume_envelope(raw, DOMAIN)
    with pytest.raises(ValueError):  # the same bytes signed for another purpose
        consume_envelope(genuine.marshal_envelope(), "libp2p-routing-state")


def test_the_cache_keeps_at_most_its_bound(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(peer_records.params, "PEER_RECORD_CACHE", 3)
    monkeypatch.setattr(peer_records, "_verified", type(peer_records._verified)())
    for port in range(5):
        consume_envelope(signed_record(port + 1).marshal_envelope(), DOMAIN)
    assert len(peer_records._verified) == 3
