"""Pipelined multistream-select for the initiator: the header and the protocol in one write.

py-libp2p 0.8.1's client writes the multistream header, waits for the peer's header, then
writes the protocol and waits for its echo: two round trips, and two writes (two Yamux frames
and Noise messages on a stream; two TCP segments on a new connection), before each stream,
Noise session and muxer. An initiator that proposes one protocol needs no answer to the header
before proposing it, so `PipelinedMultiselectClient` writes both at once, as go-libp2p does,
and reads the two answers: one round trip. With several protocols the first is pipelined the
same way and the others are proposed one by one after an "na". The bytes on the wire are
standard multistream-select 1.0.0, so any libp2p listener answers as before; a peer that does
not support the protocol answers "na" and the client raises ProtocolNotSupportedError (a
MultiselectClientError) naming the protocols proposed.

`install(host)` uses it for the host's streams and for the muxer of the connections its
swarm dials. Their security goes one step further ("lazy" selection, as rust-libp2p's
`V1Lazy` and go-libp2p's lazy client do): the dialer proposes its one security protocol
(Noise) with the handshake's first message, in the same write (`ProposedConnection`), and
reads the listener's acceptance before the handshake's answer. A new connection thus costs
two round trips less than with py-libp2p's client. A listener that refuses Noise answers
"na" and the dial fails ("failed to negotiate the secure protocol").

`open_with_request` goes one step further for request/response protocols ("lazy" selection,
as go-libp2p does for a protocol it knows the peer speaks): the header, the protocol and the
request leave in one write, and the peer's acceptance is read afterwards, so the request costs
no round trip of its own. A listener hands the bytes after the protocol line to the protocol's
handler; one that refuses the protocol answers "na" (and drops the request, which it takes
for a malformed proposal), and the caller gets ProtocolNotSupportedError.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import trio
from libp2p.abc import (
    IHost,
    IMultiselectCommunicator,
    INetStream,
    IRawConnection,
    ISecureConn,
)
from libp2p.custom_types import TProtocol
from libp2p.host.basic_host import BasicHost
from libp2p.peer.id import ID
from libp2p.protocol_muxer.exceptions import (
    MultiselectClientError,
    MultiselectCommunicatorError,
    ProtocolNotSupportedError,
)
from libp2p.protocol_muxer.multiselect_client import (
    MULTISELECT_PROTOCOL_ID,
    PROTOCOL_NOT_FOUND_MSG,
    MultiselectClient,
)
from libp2p.protocol_muxer.multiselect_communicator import MultiselectCommunicator
from libp2p.security.security_multistream import SecurityMultistream
from libp2p.utils.varint import encode_delim

from p2p import yamux


class PipelinedMultiselectClient(MultiselectClient):
    """A multistream-select initiator that proposes its first protocol with the header."""

    async def select_one_of(
        self,
        protocols: Sequence[TProtocol],
        communicator: IMultiselectCommunicator,
        negotiate_timeout: int = 30,
    ) -> TProtocol:
        """The first of `protocols` the peer accepts; MultiselectClientError if none or if the
        peer answers anything else than multistream-select 1.0.0 (within `negotiate_timeout`)."""
        if not protocols:
            raise MultiselectClientError("no protocol to propose")
        with trio.move_on_after(negotiate_timeout):
            first, *others = protocols
            await _write(communicator, _delimited(MULTISELECT_PROTOCOL_ID, first))
            if await _accepted(communicator, first):
                return first
            for protocol in others:
                await _write(communicator, _delimited(protocol))
                if await _answer(communicator, protocol):
                    return protocol
            raise ProtocolNotSupportedError(
                f"peer supports none of {[str(p) for p in protocols]} (it answered "
                f"{PROTOCOL_NOT_FOUND_MSG!r}); is it running a compatible version?"
            )
        raise MultiselectClientError(
            f"no answer to the proposal of {[str(p) for p in protocols]} "
            f"within {negotiate_timeout} s"
        )


def _delimited(*messages: str) -> bytes:
    return b"".join(encode_delim(message.encode()) for message in messages)


async def _write(communicator: IMultiselectCommunicator, data: bytes) -> None:
    """One write of pre-encoded messages straight to the communicator's stream."""
    writer = communicator.read_writer if isinstance(communicator, MultiselectCommunicator) else None
    if writer is None:
        raise MultiselectClientError("pipelined multistream-select needs a raw stream")
    try:
        await writer.write(data)
    except Exception as exc:
        raise MultiselectClientError(f"multistream-select write failed: {exc!r}") from exc


async def _read(communicator: IMultiselectCommunicator, protocol: TProtocol) -> str:
    try:
        return await communicator.read()
    except MultiselectCommunicatorError as exc:
        raise MultiselectClientError(
            f"peer closed or garbled the stream while {protocol} was proposed: {exc!r}"
        ) from exc


async def _accepted(communicator: IMultiselectCommunicator, protocol: TProtocol) -> bool:
    """Read the peer's header, then its answer to `protocol`: True if accepted, False on "na"."""
    header = await _read(communicator, protocol)
    if header != MULTISELECT_PROTOCOL_ID:
        raise MultiselectClientError(
            f"peer answered {header!r} to the multistream-select 1.0.0 header; "
            "it does not speak multistream-select 1.0.0"
        )
    return await _answer(communicator, protocol)


async def _answer(communicator: IMultiselectCommunicator, protocol: TProtocol) -> bool:
    """True if the peer accepted `protocol`, False on "na"; anything else raises."""
    response = await _read(communicator, protocol)
    if response == protocol:
        return True
    if response == PROTOCOL_NOT_FOUND_MSG:
        return False
    raise MultiselectClientError(
        f"peer answered {response!r} to the proposal of {protocol}; expected the protocol "
        f"or {PROTOCOL_NOT_FOUND_MSG!r}"
    )


class ProposedConnection:
    """A connection on which `protocol` is proposed lazily: the proposal leaves with the first
    write, and the peer's acceptance is read (and checked) before the first read returns.

    Everything but `read` and `write` is the wrapped connection's.
    """

    def __init__(self, conn: Any, protocol: TProtocol) -> None:
        self._conn = conn
        self._protocol = protocol
        self._proposal = _delimited(MULTISELECT_PROTOCOL_ID, protocol)  # b"" once sent
        self._acceptance = trio.Lock()
        self._accepted = False

    async def write(self, data: bytes) -> None:
        """Write `data`, after the proposal if it has not left yet."""
        data, self._proposal = self._proposal + data, b""
        await self._conn.write(data)

    async def read(self, n: int | None = None) -> bytes:
        """Read from the peer once it has accepted the protocol (ProtocolNotSupportedError if
        it refused it, MultiselectClientError if it answered anything else)."""
        if not self._accepted:
            async with self._acceptance:
                if not self._accepted:
                    await self._check_acceptance()
        return await self._conn.read(n)

    async def _check_acceptance(self) -> None:
        if self._proposal:  # a read before any write: the peer waits for the proposal
            await self.write(b"")
        if not await _accepted(MultiselectCommunicator(self._conn), self._protocol):
            raise ProtocolNotSupportedError(
                f"peer refused {self._protocol} (it answered {PROTOCOL_NOT_FOUND_MSG!r}); "
                "it needs Noise and Yamux, as every libp2p peer of this network offers"
            )
        self._accepted = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


class LazySecurity(SecurityMultistream):
    """Security negotiation whose dialer proposes its only protocol with the handshake."""

    async def secure_outbound(self, conn: IRawConnection, peer_id: ID) -> ISecureConn:
        """Secure an outbound connection; the proposal rides on the handshake's first write."""
        if len(self.transports) != 1:
            return await super().secure_outbound(conn, peer_id)
        ((protocol, transport),) = self.transports.items()
        proposed = ProposedConnection(conn, protocol)
        secure_conn = await transport.secure_outbound(proposed, peer_id)  # type: ignore[arg-type]
        secure_conn.negotiated_security_protocol = str(protocol)  # type: ignore[attr-defined]
        return secure_conn


def install(host: BasicHost) -> None:
    """Negotiate `host`'s outbound streams and the muxer of the connections its swarm dials
    with pipelined multistream-select, and their security lazily."""
    host.multiselect_client = PipelinedMultiselectClient()
    upgrader = host.get_network().upgrader  # type: ignore[attr-defined]
    upgrader.security_multistream = LazySecurity(upgrader.security_multistream.transports)
    upgrader.muxer_multistream._selector.multiselect_client = PipelinedMultiselectClient()


async def open_with_request(
    host: IHost,
    peer: ID,
    protocol: TProtocol,
    request: bytes,
    receive_window: int = 0,
    negotiate_timeout: float = 30.0,
) -> INetStream:
    """A stream to `peer` (dialed if need be) speaking `protocol`, with `request` sent.

    The multistream-select header, the proposal of `protocol` and `request` go in one write;
    then the peer's acceptance is read. `receive_window`: bytes the peer may send before it
    waits for a window update (Yamux; at least the default). ProtocolNotSupportedError if the
    peer refuses `protocol`, MultiselectClientError if it answers anything else or nothing
    within `negotiate_timeout`; the stream is then reset.
    """
    stream = await host.get_network().new_stream(peer)
    try:
        if receive_window and isinstance(stream.muxed_stream, yamux.SerialYamuxStream):
            await stream.muxed_stream.open_window(receive_window)
        await stream.write(_delimited(MULTISELECT_PROTOCOL_ID, protocol) + request)
        with trio.move_on_after(negotiate_timeout):
            if not await _accepted(MultiselectCommunicator(stream), protocol):
                raise ProtocolNotSupportedError(
                    f"peer {peer} does not support {protocol} (it answered "
                    f"{PROTOCOL_NOT_FOUND_MSG!r}); is it running a compatible version?"
                )
            stream.set_protocol(protocol)
            return stream
        raise MultiselectClientError(
            f"peer {peer} did not answer the proposal of {protocol} within {negotiate_timeout} s"
        )
    except BaseException:
        # the stream may already be gone with its connection
        with trio.CancelScope(shield=True), contextlib.suppress(Exception):
            await stream.reset()
        raise
