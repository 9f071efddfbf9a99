"""Direct fetch: ask one peer for a content-addressed value over our request/response protocol.

The second path when a DHT lookup fails, and the only path for values too large for DHT
records. Wire format on FETCH_PROTOCOL (one request per stream):
    request:  uvarint length + key (UTF-8, /<namespace>/<hex sha256>)
    response: one status byte (0 found, 1 not found, 2 bad request),
              then, if found, uvarint length + value
The request leaves in one write with the protocol proposal (p2p.multistream.open_with_request);
the client checks that the value hashes to the key before returning it.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from contextlib import suppress

import trio
from libp2p.abc import IHost
from libp2p.custom_types import TProtocol
from libp2p.network.stream.exceptions import StreamEOF, StreamReset
from libp2p.network.stream.net_stream import INetStream
from libp2p.peer.id import ID
from libp2p.utils import encode_uvarint, encode_varint_prefixed
from libp2p.utils.varint import read_varint_prefixed_bytes_limited

from p2p import params
from p2p.bufstream import BufferedStream
from p2p.housekeeping import held
from p2p.multistream import open_with_request
from p2p.records import RecordError, check_record, split_record_key

logger = logging.getLogger(__name__)

PROTOCOL = TProtocol(params.FETCH_PROTOCOL)

Lookup = Callable[[str], bytes | None]
"""Returns the locally held value for a key, or None."""


class Status(enum.IntEnum):
    """First byte of a fetch response."""

    FOUND = 0
    NOT_FOUND = 1
    BAD_REQUEST = 2


class FetchError(Exception):
    """A direct fetch did not produce a valid value.

    `definitive`: the peer answered (it does not hold the value, or sent a bad one); otherwise
    it could not be reached or did not answer in time, and asking again may succeed.
    """

    def __init__(self, message: str, definitive: bool = False) -> None:
        super().__init__(message)
        self.definitive = definitive


def serve(host: IHost, lookup: Lookup) -> None:
    """Answer fetch requests on `host` from `lookup`."""

    async def handler(stream: INetStream) -> None:
        peer = stream.muxed_conn.peer_id
        try:
            with held(host, peer):
                reader = BufferedStream(stream)
                with trio.fail_after(params.FETCH_TIMEOUT):
                    await _answer(reader, lookup)
                await _requester_done(reader)
            await stream.close()
        except Exception as exc:
            logger.info("fetch request failed", extra={"peer": str(peer), "error": repr(exc)})
            await stream.reset()

    host.set_stream_handler(PROTOCOL, handler)


async def _requester_done(stream: BufferedStream) -> None:
    """Wait (at most params.HOUSEKEEPING_MAX_DELAY) for the requester to close its side, which
    it does once it has read the whole value: our housekeeping streams to it wait until then
    (p2p.housekeeping), not only until the value is written to the socket."""
    with trio.move_on_after(params.HOUSEKEEPING_MAX_DELAY), suppress(StreamEOF, StreamReset):
        await stream.read(1)  # ends at its close; a byte more is not ours to read


async def _answer(stream: BufferedStream, lookup: Lookup) -> None:
    raw_key = await read_varint_prefixed_bytes_limited(stream, params.MAX_FETCH_KEY)
    try:
        key = raw_key.decode()
        split_record_key(key)
    except (UnicodeDecodeError, RecordError):
        await stream.write(bytes([Status.BAD_REQUEST]))
        return
    value = lookup(key)
    if value is None:
        await stream.write(bytes([Status.NOT_FOUND]))
        return
    await stream.write(b"".join((bytes([Status.FOUND]), encode_uvarint(len(value)), value)))


async def fetch(
    host: IHost,
    peer: ID,
    key: str,
    max_size: int = params.MAX_VALUE,
    found: trio.Event | None = None,
) -> bytes:
    """Fetch the value of `key` from `peer`; FetchError if absent, invalid or too slow.

    `found`, if given, is set as soon as the peer answers that it holds the value. Until the
    value is in, a new connection's identify and gossip streams wait (p2p.housekeeping).
    """
    namespace, _ = split_record_key(key)
    try:
        with held(host, peer), trio.fail_after(params.FETCH_TIMEOUT):
            request = encode_varint_prefixed(key.encode())
            stream = await open_with_request(host, peer, PROTOCOL, request, max_size)
            try:
                value = await _read_response(BufferedStream(stream), key, max_size, found)
            finally:
                await stream.close()
    except FetchError:
        raise
    except Exception as exc:
        raise FetchError(f"fetching {key} from {peer} failed: {exc!r}") from exc
    try:
        check_record(key, value, namespace, max_size)
    except RecordError as exc:
        raise FetchError(f"peer {peer} sent a bad value for {key}: {exc}", definitive=True) from exc
    return value


async def _read_response(
    stream: BufferedStream, key: str, max_size: int, found: trio.Event | None
) -> bytes:
    status = await stream.read(1)
    if status == bytes([Status.FOUND]):
        if found is not None:
            found.set()
        return await stream.read_prefixed(max_size)
    if status == bytes([Status.NOT_FOUND]):
        raise FetchError(f"peer does not hold {key}", definitive=True)
    raise FetchError(f"peer answered {status!r} to the request for {key}", definitive=True)
