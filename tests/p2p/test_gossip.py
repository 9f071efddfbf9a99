"""GossipSub between real hosts: delivery, validation before forwarding, scores that act."""

from __future__ import annotations

import trio
from libp2p.custom_types import TProtocol
from libp2p.pubsub.gossipsub import GossipSub
from libp2p.pubsub.pubsub import Pubsub
from libp2p.tools.anyio_service import background_trio_service

from p2p import params
from p2p.gossip import make_router
from tests.p2p.nodes import (
    connect,
    connect_chain,
    nothing_more,
    receive_all,
    running_gossip,
    running_hosts,
    wait_for_mesh,
)
from tests.p2p.testmsg import header_number, make_header, validate_header

TOPIC = params.TOPIC_JOBS


async def test_header_reaches_every_subscriber():
    async with running_hosts(6) as hosts, running_gossip(hosts, TOPIC, validate_header) as nodes:
        await connect_chain(hosts)
        await connect(hosts[5], hosts[2])
        await wait_for_mesh([g for g, _ in nodes], TOPIC)
        for n in range(3):
            await nodes[0][0].publish(TOPIC, make_header(n))
        for _gossip, channel in nodes:
            got = await receive_all(channel, 3)
            assert sorted(header_number(m.data) for m in got) == [0, 1, 2]
            assert all(m.origin == hosts[0].get_id() for m in got)


async def test_burst_of_500_headers_is_delivered_in_full():
    """py-libp2p alone drops most of it: 10/s own-publish limit, 32-message queues."""
    async with running_hosts(5) as hosts, running_gossip(hosts, TOPIC, validate_header) as nodes:
        await connect_chain(hosts)
        await wait_for_mesh([g for g, _ in nodes], TOPIC)
        for n in range(500):
            await nodes[0][0].publish(TOPIC, make_header(n))
        for _gossip, channel in nodes[1:]:
            got = await receive_all(channel, 500, timeout=120)
            assert {header_number(m.data) for m in got} == set(range(500))


async def test_large_messages_arrive_intact():
    """Messages above 64 KiB span several Yamux frames; they must not interleave."""
    async with running_hosts(3) as hosts, running_gossip(hosts, TOPIC, validate_header) as nodes:
        await connect_chain(hosts)
        await wait_for_mesh([g for g, _ in nodes], TOPIC)
        sent = {make_header(n, pad=150_000) for n in range(6)}
        async with trio.open_nursery() as nursery:
            for data in sent:
                nursery.start_soon(nodes[0][0].publish, TOPIC, data)
        for _gossip, channel in nodes[1:]:
            assert {m.data for m in await receive_all(channel, 6)} == sent


async def test_invalid_headers_are_dropped_not_forwarded_and_cost_the_sender_score():
    async with running_hosts(3) as (attacker_host, victim_host, observer_host):
        attacker_router = GossipSub(
            [TProtocol(p) for p in params.GOSSIPSUB_PROTOCOLS], 6, 4, 12, heartbeat_interval=1
        )
        attacker = Pubsub(attacker_host, attacker_router)  # stock: no validators
        async with background_trio_service(attacker), background_trio_service(attacker_router):
            await attacker.wait_until_ready()
            await attacker.subscribe(TOPIC)
            async with running_gossip([victim_host, observer_host], TOPIC, validate_header) as (
                (victim, _),
                (observer, observed),
            ):
                await connect(attacker_host, victim_host)
                await connect(observer_host, victim_host)
                await wait_for_mesh([victim, observer], TOPIC)
                attacker_id = attacker_host.get_id()

                await attacker.publish(TOPIC, make_header(1))
                assert header_number((await receive_all(observed, 1))[0].data) == 1

                for bad in (
                    make_header(2, key=b"forged"),
                    make_header(3, chain="SN_MAIN"),
                    make_header(4, ttl=-10),
                    b"\x00\xffgarbage",
                ):
                    await attacker.publish(TOPIC, bad)
                with trio.fail_after(10):
                    while victim.drops.total < 4:
                        await trio.sleep(0.05)
                assert set(victim.drops.counts) == {
                    "bad signature", "wrong chain", "expired", "undecodable header"
                }
                assert victim.score(attacker_id) < params.PUBLISH_THRESHOLD
                assert await nothing_more(observed, 1.0)

                # The score now acts: even a valid header from the attacker is not forwarded,
                # while the victim's own headers still flow.
                await attacker.publish(TOPIC, make_header(5))
                await victim.publish(TOPIC, make_header(6))
                got = await receive_all(observed, 1)
                assert header_number(got[0].data) == 6
                assert await nothing_more(observed, 1.0)


def test_router_uses_spec_heartbeat_and_finite_thresholds():
    router = make_router()
    assert router.heartbeat_interval == 1
    scores = router.scorer.params
    assert scores.graylist_threshold < scores.publish_threshold < scores.gossip_threshold < 0
    assert scores.p4_invalid_messages.weight > 0
