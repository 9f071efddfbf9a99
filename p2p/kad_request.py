"""One Kademlia exchange asking a peer for a key's record and its providers at once.

A get by key wants whichever the peer has: the record (values that fit a DHT record) or the
peers that provide the value (every value). py-libp2p asks for each on a stream of its own
(two multistream negotiations, two round trips). `ask_record_and_providers` writes a standard
GET_VALUE and a standard GET_PROVIDERS request on one /ipfs/kad/1.0.0 stream and reads the two
answers in order, as every Kademlia server serves the requests of a stream one after the other;
both requests leave with the protocol proposal (p2p.multistream.open_with_request): one round
trip in all.
Both keys must sit at the same point of the key space (p2p.dht.lookup_target) for the closer
peers of both answers to lead to the peers that hold either.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from libp2p.abc import IHost, INetStream
from libp2p.custom_types import TProtocol
from libp2p.kad_dht.common import MAX_DHT_MESSAGE_SIZE, PROTOCOL_ID
from libp2p.kad_dht.pb.kademlia_pb2 import Message
from libp2p.kad_dht.utils import maybe_consume_signed_record
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.peer.peerstore import env_to_send_in_RPC
from libp2p.utils import encode_varint_prefixed
from libp2p.utils.varint import read_varint_prefixed_bytes_limited
from multiaddr import Multiaddr

from p2p import params
from p2p.bufstream import BufferedStream
from p2p.housekeeping import held
from p2p.multistream import open_with_request

logger = logging.getLogger(__name__)


@dataclass
class Answer:
    """What one peer said about a key: its record's value, the providers, closer peers."""

    value: bytes | None = None
    providers: list[PeerInfo] = field(default_factory=list)
    closer: list[ID] = field(default_factory=list)


async def ask_record_and_providers(
    host: IHost, peer: ID, record_key: bytes, provider_key: bytes
) -> Answer:
    """Ask `peer` for the record under `record_key` and the providers of `provider_key`.

    The providers' and closer peers' addresses go into the peerstore. An answer that is
    missing, malformed, too large or carries a forged peer record counts as empty (and is
    logged); only failing to open the stream raises.
    """
    requests = _request(host, Message.MessageType.GET_VALUE, record_key) + _request(
        host, Message.MessageType.GET_PROVIDERS, provider_key
    )
    with held(host, peer):  # a new connection's identify and gossip wait for the answer
        stream = await open_with_request(host, peer, TProtocol(PROTOCOL_ID), requests)
        answer = Answer()
        try:
            reader = BufferedStream(stream)
            record = await _response(host, peer, reader, Message.MessageType.GET_VALUE, answer)
            if record is not None and record.HasField("record") and record.record.value:
                answer.value = record.record.value
            providers = await _response(
                host, peer, reader, Message.MessageType.GET_PROVIDERS, answer
            )
            if providers is not None:
                answer.providers = _providers(host, providers)
        except Exception as exc:  # what was answered before still counts
            logger.info("DHT answer cut short", extra={"peer": str(peer), "error": repr(exc)})
        finally:
            await _close_quietly(stream)
    return answer


async def _close_quietly(stream: INetStream) -> None:
    try:
        await stream.close()
    except Exception:  # the stream may already be gone with its connection
        logger.debug("DHT stream close failed", exc_info=True)


def _request(host: IHost, kind: Message.MessageType.ValueType, key: bytes) -> bytes:
    envelope, _ = env_to_send_in_RPC(host)
    message = Message(type=kind, key=key, senderRecord=envelope)
    return encode_varint_prefixed(message.SerializeToString())


async def _response(
    host: IHost,
    peer: ID,
    reader: BufferedStream,
    kind: Message.MessageType.ValueType,
    answer: Answer,
) -> Message | None:
    """The next answer on the stream if it is a well-formed `kind` answer signed by `peer`;
    its closer peers are added to `answer`."""
    data = await read_varint_prefixed_bytes_limited(reader, MAX_DHT_MESSAGE_SIZE)
    try:
        message = Message.FromString(data)
    except Exception as exc:
        logger.info("malformed DHT answer", extra={"peer": str(peer), "error": repr(exc)})
        return None
    if message.type != kind or not maybe_consume_signed_record(message, host, peer):
        logger.info("DHT answer refused", extra={"peer": str(peer), "type": message.type})
        return None
    for closer in message.closerPeers:
        info = _peer_info(closer)
        if info is not None and info.peer_id not in (host.get_id(), *answer.closer):
            host.get_peerstore().add_addrs(info.peer_id, info.addrs, params.PEER_ADDR_TTL)
            answer.closer.append(info.peer_id)
    return message


def _providers(host: IHost, message: Message) -> list[PeerInfo]:
    providers = []
    for provider in message.providerPeers:
        if maybe_consume_signed_record(provider, host) and (info := _peer_info(provider)):
            host.get_peerstore().add_addrs(info.peer_id, info.addrs, params.PEER_ADDR_TTL)
            providers.append(info)
    return providers


def _peer_info(peer: Message.Peer) -> PeerInfo | None:
    try:
        return PeerInfo(ID(peer.id), [Multiaddr(addr) for addr in peer.addrs])
    except Exception:  # a malformed id or address: that peer is left out
        return None
