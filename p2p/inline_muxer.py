"""The stream muxer chosen inside the Noise handshake: one round trip fewer per connection.

py-libp2p 0.8.1 negotiates the muxer with multistream-select once the Noise handshake is done,
one more round trip before the first stream (3-5 ms of a cold DHT get on these machines). The
libp2p spec "Stream multiplexer negotiation in security handshake" (connections/
inlined-muxer-negotiation.md, done by go-libp2p) lets each side list its muxers in the
extensions of its Noise handshake payload: the responder in message 2, the initiator in
message 3. When both list some, the muxer is the first of the initiator's list that the
responder lists too, and no multistream-select follows; when none is common the handshake
fails. When either lists none (py-libp2p's own Noise, older peers), the muxer is negotiated
with multistream-select as before.

`MuxerListingXX` puts our list in our payloads; `peer_muxers()` collects the list in the
peer's payload (py-libp2p parses it and drops it; `install()` keeps it for the handshake
running in the current task); `choose` applies the rule.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from libp2p.security.noise.exceptions import NoiseFailure
from libp2p.security.noise.messages import NoiseExtensions, NoiseHandshakePayload
from libp2p.security.noise.patterns import PatternXX

_peer_payloads: ContextVar[list[NoiseHandshakePayload] | None] = ContextVar(
    "peer_payloads", default=None
)
_deserialize = NoiseHandshakePayload.deserialize


class NoCommonMuxer(NoiseFailure):
    """Both peers listed muxers in their handshakes and no muxer is in both lists."""


class MuxerListingXX(PatternXX):
    """py-libp2p's Noise XX handshake whose payloads list `muxers` (ours, preferred first)."""

    def __init__(self, *args: Any, muxers: Sequence[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.muxers = list(muxers)

    def make_handshake_payload(
        self, extensions: NoiseExtensions | None = None
    ) -> NoiseHandshakePayload:
        """Our signed payload, with our muxers in its extensions."""
        return super().make_handshake_payload(NoiseExtensions(stream_muxers=self.muxers))


@contextmanager
def peer_muxers() -> Iterator[list[str]]:
    """The muxers the peer lists in the Noise handshake run inside the block (in this task),
    in the list yielded, filled when the block ends; empty if the peer lists none."""
    payloads: list[NoiseHandshakePayload] = []
    token = _peer_payloads.set(payloads)
    listed: list[str] = []
    try:
        yield listed
    finally:
        _peer_payloads.reset(token)
        for payload in payloads:
            if payload.extensions is not None:
                listed.extend(payload.extensions.stream_muxers)


def choose(initiator: Sequence[str], responder: Sequence[str]) -> str | None:
    """The muxer both lists agree on (the initiator's preference first); None if either
    list is empty (multistream-select decides); NoCommonMuxer if no muxer is in both."""
    if not initiator or not responder:
        return None
    for muxer in initiator:
        if muxer in responder:
            return muxer
    raise NoCommonMuxer(
        f"no stream muxer in common: the initiator offers {list(initiator)}, the responder "
        f"{list(responder)}; this network uses /yamux/1.0.0"
    )


def _deserialize_noted(protobuf_bytes: bytes) -> NoiseHandshakePayload:
    payload = _deserialize(protobuf_bytes)
    noted = _peer_payloads.get()
    if noted is not None:
        noted.append(payload)
    return payload


def install() -> None:
    """Keep the peer's handshake payloads for `peer_muxers` (idempotent)."""
    NoiseHandshakePayload.deserialize = staticmethod(_deserialize_noted)  # type: ignore[method-assign,assignment]
