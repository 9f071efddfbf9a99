"""A node survives any bytes any peer sends, on every protocol it speaks."""

from __future__ import annotations

import logging
import os

import pytest
import trio
from libp2p.custom_types import TProtocol
from libp2p.identity.identify.identify import ID as IDENTIFY_PROTOCOL
from libp2p.kad_dht.common import PROTOCOL_ID as KAD_PROTOCOL
from libp2p.utils import encode_varint_prefixed

from p2p import params
from p2p.fetch import PROTOCOL as FETCH_PROTOCOL
from p2p.host import connect_with_backoff, p2p_addr, peer_info
from tests.p2p.nodes import (
    connect,
    content_stores,
    ping_ok,
    running_gossip,
    running_hosts,
    wait_for_mesh,
)
from tests.p2p.testmsg import header_number, make_header, validate_header

TOPIC = params.TOPIC_JOBS
MESHSUB = TProtocol(params.GOSSIPSUB_PROTOCOLS[0])

GARBAGE = {
    "undecodable protobuf": encode_varint_prefixed(b"\x0a\xff\xff\xff\xff\xff\xff\x01" * 8),
    "length prefix of 1 TiB": b"\x80\x80\x80\x80\x80\x20" + os.urandom(64),
    "bad varint": b"\xff" * 11,
    "random 300 KiB": os.urandom(300 * 1024),
    "truncated frame": encode_varint_prefixed(os.urandom(5000))[:1000],
}


async def _send_garbage(attacker, victim, protocol: TProtocol, payload: bytes) -> None:
    """Open a stream on `protocol` and write `payload`; the victim may cut us off for it."""
    try:
        with trio.fail_after(10):
            await connect_with_backoff(attacker, peer_info(p2p_addr(victim)), retries=2)
            stream = await attacker.new_stream(victim.get_id(), [protocol])
            await stream.write(payload)
            with trio.move_on_after(0.5):
                await stream.read(1)
    except Exception:  # a reset stream or a dropped connection is the victim defending itself
        pass


async def _still_gossips(nodes, sender: int, receiver: int, n: int) -> None:
    await nodes[sender][0].publish(TOPIC, make_header(n))
    with trio.fail_after(20):
        while header_number((await nodes[receiver][1].receive()).data) != n:
            pass


@pytest.mark.parametrize(
    "protocol",
    [MESHSUB, KAD_PROTOCOL, FETCH_PROTOCOL, IDENTIFY_PROTOCOL, TProtocol("/ipfs/ping/1.0.0")],
)
async def test_garbage_on_a_protocol_stream_does_not_stop_the_node(protocol):
    async with (
        running_hosts(3) as hosts,
        running_gossip(hosts, TOPIC, validate_header) as nodes,
        content_stores(hosts) as stores,
    ):
        attacker, victim, honest = hosts
        await connect(attacker, victim)
        await connect(honest, victim)
        await wait_for_mesh([nodes[1][0], nodes[2][0]], TOPIC)
        for payload in GARBAGE.values():
            await _send_garbage(attacker, victim, protocol, payload)
        assert await ping_ok(honest, victim)
        await _still_gossips(nodes, 2, 1, 7)
        await _still_gossips(nodes, 1, 2, 8)
        key = await stores[2].put(params.NS_BODY, b"still serving")
        with trio.fail_after(30):
            assert await stores[1].get(key) == b"still serving"
        if protocol == MESHSUB:
            victim_gossip = nodes[1][0]
            assert victim_gossip.drops.total >= 1
            assert victim_gossip.score(attacker.get_id()) < 0


async def test_garbage_on_raw_tcp_does_not_stop_the_node():
    async with running_hosts(2) as (victim, honest):
        port = int(victim.get_addrs()[0].value_for_protocol("tcp"))
        for payload in [*GARBAGE.values(), b"/multistream/1.0.0\n" * 100]:
            with trio.fail_after(10):
                conn = await trio.open_tcp_stream("127.0.0.1", port)
                try:
                    await conn.send_all(payload)
                    with trio.move_on_after(0.3):
                        await conn.receive_some(1024)
                except (trio.BrokenResourceError, OSError):
                    pass
                finally:
                    await conn.aclose()
        await connect(honest, victim)
        assert await ping_ok(honest, victim)


@pytest.mark.parametrize(
    "answer",
    [
        GARBAGE["undecodable protobuf"],
        b"\x80\x80\x80\x01" + os.urandom(64 * 1024),  # says 2 MiB, above identify's 1 MiB
    ],
    ids=["malformed", "huge"],
)
async def test_a_bad_identify_answer_is_logged_and_the_node_carries_on(answer, caplog):
    async with running_hosts(3) as (node, liar, honest):

        async def lie(stream) -> None:
            await stream.write(answer)
            await stream.close()

        liar.set_stream_handler(IDENTIFY_PROTOCOL, lie)
        with caplog.at_level(logging.WARNING, logger="p2p.host"), trio.fail_after(15):
            await connect(node, liar)
            while "no usable identify answer" not in caplog.text:
                await trio.sleep(0.02)
        assert liar.get_id() not in node._identified_peers
        assert await ping_ok(node, liar)
        await connect(honest, node)
        with trio.fail_after(10):
            while honest.get_id() not in node._identified_peers:
                await trio.sleep(0.02)
