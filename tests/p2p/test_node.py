"""Whole nodes: bootstrap from config, restart with the same identity and port, rejoin."""

from __future__ import annotations

import os

import trio
from libp2p.crypto.ed25519 import create_new_key_pair

from p2p import params
from p2p.host import HostConfig, p2p_addr
from p2p.node import run_node
from tests.p2p.nodes import wait_for_mesh
from tests.p2p.testmsg import header_number, make_header, validate_header
from tests.ports import free_port

TOPIC = params.TOPIC_JOBS
VALIDATORS = {TOPIC: validate_header}


async def receive_header(node, n: int) -> None:
    with trio.fail_after(30):
        while header_number((await node.channel.receive()).data) != n:
            pass


async def test_node_restarts_with_same_identity_and_rejoins():
    identity = create_new_key_pair()  # the node's key file, as node.keys reads it
    port = free_port()
    seed_config = HostConfig()
    async with run_node(create_new_key_pair(), seed_config, VALIDATORS) as seed:
        seed_channel = await seed.gossip.subscribe(TOPIC)
        config = HostConfig(
            listen_addrs=(f"/ip4/127.0.0.1/tcp/{port}",), bootstrap=(p2p_addr(seed.host),)
        )
        async with run_node(identity, config, VALIDATORS) as first_run:
            first_id = first_run.host.get_id()
            await first_run.gossip.subscribe(TOPIC)
            await wait_for_mesh([seed.gossip, first_run.gossip], TOPIC)

        async with run_node(identity, config, VALIDATORS) as second_run:
            assert second_run.host.get_id() == first_id
            channel = await second_run.gossip.subscribe(TOPIC)
            await wait_for_mesh([seed.gossip, second_run.gossip], TOPIC)

            await seed.gossip.publish(TOPIC, make_header(1))
            with trio.fail_after(30):
                while header_number((await channel.receive()).data) != 1:
                    pass
            await second_run.gossip.publish(TOPIC, make_header(2))
            with trio.fail_after(30):
                while header_number((await seed_channel.receive()).data) != 2:
                    pass

            body = os.urandom(2048)
            key = await seed.content.put(params.NS_BODY, body)
            with trio.fail_after(30):
                assert await second_run.content.get(key) == body
