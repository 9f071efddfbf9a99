"""Asking a peer for a key's record and its providers on one stream, between real hosts."""

from __future__ import annotations

import os

import trio
from libp2p.kad_dht.common import PROTOCOL_ID as KAD_PROTOCOL
from libp2p.kad_dht.pb.kademlia_pb2 import Message
from libp2p.utils import encode_varint_prefixed

from p2p import params
from p2p.content import provider_key
from p2p.kad_request import ask_record_and_providers
from tests.p2p.nodes import connect, content_stores, running_hosts

NS = params.NS_BODY


def keys(key: str) -> tuple[bytes, bytes]:
    return key.encode(), bytes.fromhex(provider_key(key))


async def test_one_stream_brings_the_record_the_providers_and_closer_peers():
    async with running_hosts(3) as (publisher, server, client):
        await connect(server, publisher)
        async with content_stores([publisher, server]) as (store, _):
            small = await store.put(NS, b"small body")
            big = await store.put(NS, os.urandom(params.MAX_DHT_RECORD + 1))
            await connect(client, server)
            with trio.fail_after(10):
                held = await ask_record_and_providers(client, server.get_id(), *keys(small))
                too_big = await ask_record_and_providers(client, server.get_id(), *keys(big))
    assert held.value == b"small body"
    assert too_big.value is None  # providers only
    for answer in (held, too_big):
        assert [p.peer_id for p in answer.providers] == [publisher.get_id()]
        assert answer.closer == [publisher.get_id()]
    assert client.get_peerstore().addrs(publisher.get_id())  # dialable from the answer


GARBAGE = {
    "not protobuf": encode_varint_prefixed(b"\xff\xff\xff\xff"),
    "wrong answer type": encode_varint_prefixed(
        Message(type=Message.MessageType.PING).SerializeToString()
    ),
    "length over the 4 MiB limit": bytes.fromhex("80808080 02"),
    "nothing, then a close": b"",
}


async def test_bad_answers_give_nothing_and_the_client_carries_on():
    """A peer answering each request with something else than a Kademlia answer."""
    replies = list(GARBAGE.values())
    async with running_hosts(3) as (liar, honest, client):

        async def bad_server(stream) -> None:
            await stream.read(4096)
            await stream.write(replies.pop(0))
            await stream.close()

        liar.set_stream_handler(KAD_PROTOCOL, bad_server)
        async with content_stores([honest]) as (store,):
            key = await store.put(NS, b"body")
            await connect(client, liar)
            await connect(client, honest)
            with trio.fail_after(10):
                for _ in GARBAGE:
                    answer = await ask_record_and_providers(client, liar.get_id(), *keys(key))
                    assert (answer.value, answer.providers, answer.closer) == (None, [], [])
                good = await ask_record_and_providers(client, honest.get_id(), *keys(key))
    assert not replies
    assert good.value == b"body"
