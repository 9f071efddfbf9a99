"""GossipSub between real hosts: delivery, validation before forwarding, scores that act."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.custom_types import TProtocol
from libp2p.network.stream.net_stream import INetStream
from libp2p.peer.id import ID
from libp2p.pubsub.gossipsub import GossipSub
from libp2p.pubsub.mcache import MessageCache
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub
from libp2p.pubsub.validators import PUBSUB_SIGNING_PREFIX
from libp2p.tools.anyio_service import background_trio_service
from libp2p.utils import encode_uvarint, encode_varint_prefixed
from libp2p.utils.varint import read_varint_prefixed_bytes_limited

from p2p import params
from p2p.gossip import Gossip, make_router
from p2p.messages import SignedJobHeader
from p2p.outbound import EXPIRED
from p2p.scoring import PenaltyLedger, SpecScorer
from p2p.validation import Outcome, Verdict
from p2p.yamux import MAX_FRAME_PAYLOAD
from tests.p2p.nodes import (
    connect,
    connect_chain,
    nothing_more,
    receive_all,
    running_gossip,
    running_host,
    running_hosts,
    wait_for_mesh,
)
from tests.p2p.testmsg import (
    FORGED,
    header_number,
    make_header,
    make_large_payload,
    validate_header,
    validate_intact,
)

TOPIC = params.TOPIC_JOBS


def count_idontwant(gossip: Gossip) -> list[int]:
    """A one-item list counting the message ids `gossip` sends IDONTWANT for."""
    count = [0]
    write_msg = gossip.pubsub.write_msg

    async def counted(stream: INetStream, rpc: rpc_pb2.RPC) -> bool:
        count[0] += sum(len(item.messageIDs) for item in rpc.control.idontwant)
        return await write_msg(stream, rpc)

    gossip.pubsub.write_msg = counted  # type: ignore[method-assign]
    return count


async def test_header_reaches_every_subscriber():
    """... and no IDONTWANT is sent for a header (below params.IDONTWANT_THRESHOLD, it costs
    as much as the duplicate it might save)."""
    async with running_hosts(6) as hosts, running_gossip(hosts, TOPIC, validate_header) as nodes:
        idontwant = [count_idontwant(gossip) for gossip, _ in nodes]
        await connect_chain(hosts)
        await connect(hosts[5], hosts[2])
        await wait_for_mesh([g for g, _ in nodes], TOPIC)
        for n in range(3):
            await nodes[0][0].publish(TOPIC, make_header(n))
        for _gossip, channel in nodes:
            got = await receive_all(channel, 3)
            assert sorted(header_number(m.data) for m in got) == [0, 1, 2]
            assert all(m.origin == hosts[0].get_id() for m in got)
        assert sum(count[0] for count in idontwant) == 0


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
    """Messages above 64 KiB span several Yamux frames; they must not interleave. The middle
    node tells its other mesh peer it has each one (IDONTWANT, gossipsub v1.2)."""
    async with running_hosts(3) as hosts, running_gossip(hosts, TOPIC, validate_intact) as nodes:
        idontwant = count_idontwant(nodes[1][0])
        await connect_chain(hosts)
        await wait_for_mesh([g for g, _ in nodes], TOPIC)
        sent = {make_large_payload(n, 150_000) for n in range(6)}
        async with trio.open_nursery() as nursery:
            for data in sent:
                nursery.start_soon(nodes[0][0].publish, TOPIC, data)
        for _gossip, channel in nodes[1:]:
            assert {m.data for m in await receive_all(channel, 6)} == sent
        with trio.fail_after(10):
            while idontwant[0] < 6:
                await trio.sleep(0.05)


@asynccontextmanager
async def stock_pubsub(host) -> AsyncIterator[Pubsub]:
    """py-libp2p's own pubsub without validators: it publishes whatever it is given."""
    router = GossipSub(
        [TProtocol(p) for p in params.GOSSIPSUB_PROTOCOLS], 6, 4, 12, heartbeat_interval=1
    )
    pubsub = Pubsub(host, router)
    async with background_trio_service(pubsub), background_trio_service(router):
        await pubsub.wait_until_ready()
        await pubsub.subscribe(TOPIC)
        yield pubsub


async def test_invalid_headers_are_dropped_not_forwarded_and_cost_the_sender_score():
    """An expired header is dropped and not forwarded too, but costs no score (see
    p2p.topic_checks); B's garbage costs it. Five hosts: two stock attackers, the victim, an
    observer beside it and a far observer behind that one."""
    async with (
        running_hosts(5) as (host_a, host_b, victim_host, observer_host, far_host),
        stock_pubsub(host_a) as attacker_a,
        stock_pubsub(host_b) as attacker_b,
        running_gossip([victim_host, observer_host, far_host], TOPIC, validate_header) as (
            (victim, _),
            (observer, observed),
            (far, far_observed),
        ),
    ):
        for host in (host_a, host_b, observer_host):
            await connect(host, victim_host)
        await connect(far_host, observer_host)
        await wait_for_mesh([victim, observer, far], TOPIC)

        await attacker_a.publish(TOPIC, make_header(1))
        assert header_number((await receive_all(observed, 1))[0].data) == 1
        assert header_number((await receive_all(far_observed, 1))[0].data) == 1

        forged = make_header(2, key=FORGED)
        await attacker_a.publish(TOPIC, forged)
        await attacker_a.publish(TOPIC, make_header(3, chain="SN_MAIN"))
        await attacker_b.publish(TOPIC, make_header(4, ttl=-100))
        await attacker_b.publish(TOPIC, b"\x00\xffgarbage")
        with trio.fail_after(10):
            while victim.drops.total < 4:
                await trio.sleep(0.05)
        # The same forged bytes again, as another message: its remembered check still rejects
        # it, and still costs the peer that sent it.
        score_b = victim.score(host_b.get_id())
        await attacker_b.publish(TOPIC, forged)
        with trio.fail_after(10):
            while victim.drops.total < 5:
                await trio.sleep(0.05)
        assert victim.drops.counts == {
            "bad signature": 2,
            "wrong chain": 1,
            "expired": 1,
            "undecodable header": 1,
        }
        assert victim.score(host_b.get_id()) < score_b - params.INVALID_MESSAGE_PENALTY / 2
        for attacker_host in (host_a, host_b):
            assert victim.score(attacker_host.get_id()) < 0
        assert await nothing_more(observed, 1.0)
        assert await nothing_more(far_observed, 0.1)

        # One more offence takes A below the publish threshold: from then on even its valid
        # headers are neither delivered nor forwarded, while other peers' headers flow.
        await attacker_a.publish(TOPIC, make_header(5, key=FORGED))
        with trio.fail_after(10):
            while victim.score(host_a.get_id()) >= params.PUBLISH_THRESHOLD:
                await trio.sleep(0.05)
        await attacker_a.publish(TOPIC, make_header(6))
        await attacker_b.publish(TOPIC, make_header(7))
        got = await receive_all(observed, 1)
        assert header_number(got[0].data) == 7
        assert header_number((await receive_all(far_observed, 1))[0].data) == 7
        assert await nothing_more(observed, 1.0)
        assert await nothing_more(far_observed, 0.1)
        assert victim.drops.counts["peer score below publish threshold"] == 1


async def test_a_forward_goes_once_to_each_mesh_peer_never_back_nor_below_the_gossip_threshold():
    """The hub forwards a header to each of its mesh peers once: not to the peer it came
    from (here also its origin), not to a peer whose score is below the gossip threshold."""
    async with (
        running_hosts(5) as (origin_host, hub_host, left_host, right_host, low_host),
        running_gossip(
            [origin_host, hub_host, left_host, right_host, low_host], TOPIC, validate_header
        ) as (
            (origin, _),
            (hub, _),
            (left, left_got),
            (right, right_got),
            (low, low_got),
        ),
    ):
        for host in (origin_host, left_host, right_host, low_host):
            await connect(host, hub_host)
        await wait_for_mesh([origin, hub, left, right, low], TOPIC)
        hub.ledger.add(low_host.get_id(), -params.GOSSIP_THRESHOLD + 1)
        sent: list[ID] = []
        write_msg = hub.pubsub.write_msg

        async def recorded(stream: INetStream, rpc: rpc_pb2.RPC) -> bool:
            sent.extend(stream.muxed_conn.peer_id for _ in rpc.publish)
            return await write_msg(stream, rpc)

        hub.pubsub.write_msg = recorded  # type: ignore[method-assign]
        await origin.publish(TOPIC, make_header(1))
        for channel in (left_got, right_got):
            assert header_number((await receive_all(channel, 1))[0].data) == 1
        assert await nothing_more(low_got, 1.0)
        assert sorted(map(str, sent)) == sorted([str(left_host.get_id()), str(right_host.get_id())])


def test_router_uses_spec_heartbeat_and_acting_thresholds():
    router = make_router(PenaltyLedger())
    assert router.heartbeat_interval == 1
    assert isinstance(router.scorer, SpecScorer)
    scores = router.scorer.params
    assert scores.graylist_threshold < scores.publish_threshold < scores.gossip_threshold < 0


async def test_message_with_a_forged_pubsub_signature_is_rejected():
    """A peer relays a header under someone else's peer id with a made-up signature."""
    async with (
        running_hosts(3) as (attacker, victim_host, observer_host),
        running_gossip([victim_host, observer_host], TOPIC, validate_header) as (
            (victim, _),
            (observer, observed),
        ),
    ):
        await connect(observer_host, victim_host)
        await connect(attacker, victim_host)
        await wait_for_mesh([victim, observer], TOPIC)
        forged = rpc_pb2.Message(
            from_id=observer_host.get_id().to_bytes(),
            data=make_header(1),
            seqno=(1).to_bytes(8, "big"),
            topicIDs=[TOPIC],
            signature=b"\x01" * 64,
        )
        stream = await attacker.new_stream(
            victim_host.get_id(), [TProtocol(params.GOSSIPSUB_PROTOCOLS[0])]
        )
        rpc = rpc_pb2.RPC(publish=[forged])
        await stream.write(encode_varint_prefixed(rpc.SerializeToString()))
        with trio.fail_after(10):
            while victim.drops.counts["bad pubsub signature"] < 1:
                await trio.sleep(0.05)
        assert victim.score(attacker.get_id()) < 0
        assert await nothing_more(observed, 1.0)


async def test_signed_peer_record_travels_once_per_stream_in_the_hello():
    """py-libp2p attaches it to every RPC and each receiver re-verifies it (~180 µs a time)."""
    rpcs: list[rpc_pb2.RPC] = []

    async def sniff(stream) -> None:
        while True:
            rpc = rpc_pb2.RPC()
            rpc.ParseFromString(await read_varint_prefixed_bytes_limited(stream, 1 << 20))
            rpcs.append(rpc)

    async def received(count: int) -> None:
        with trio.fail_after(10):
            while len(rpcs) < count:
                await trio.sleep(0.05)

    validators = {TOPIC: validate_header, params.TOPIC_BIDS: validate_header}
    async with running_hosts(3) as (sniffer, host, peer_host):
        sniffer.set_stream_handler(TProtocol(params.GOSSIPSUB_PROTOCOLS[0]), sniff)
        async with Gossip(host, validators).run() as gossip, Gossip(peer_host, validators).run():
            await gossip.subscribe(TOPIC)
            await connect(host, sniffer)
            await received(1)
            await gossip.subscribe(params.TOPIC_BIDS)  # announced over the open stream
            await received(2)
            await connect(peer_host, host)
            with trio.fail_after(10):  # a node of ours still learns the record, from the hello
                while peer_host.get_peerstore().get_peer_record(host.get_id()) is None:
                    await trio.sleep(0.05)
    hello, announcement = rpcs[:2]
    assert hello.HasField("senderRecord")
    assert [s.topicid for s in hello.subscriptions] == [TOPIC]
    assert not announcement.HasField("senderRecord")
    assert [s.topicid for s in announcement.subscriptions] == [params.TOPIC_BIDS]


async def test_received_messages_spawn_no_task_and_duplicates_are_dropped(caplog):
    """py-libp2p spawns one task per new message read; here it is handled where it is read."""
    async with (
        running_hosts(2) as (sender, receiver_host),
        running_gossip([receiver_host], TOPIC, validate_header) as ((receiver, received),),
    ):
        await connect(sender, receiver_host)

        def header_rpc(seqno: int) -> rpc_pb2.RPC:
            """Header 7 as the sender's message number `seqno`, signed by it."""
            message = rpc_pb2.Message(
                from_id=sender.get_id().to_bytes(),
                data=make_header(7),
                seqno=seqno.to_bytes(8, "big"),
                topicIDs=[TOPIC],
            )
            signed = PUBSUB_SIGNING_PREFIX.encode() + message.SerializeToString()
            message.signature = sender.get_private_key().sign(signed)
            return rpc_pb2.RPC(publish=[message])

        async def open_stream() -> INetStream:
            protocol = TProtocol(params.GOSSIPSUB_PROTOCOLS[0])
            return await sender.new_stream(receiver_host.get_id(), [protocol])

        rpc = encode_varint_prefixed(header_rpc(7).SerializeToString())
        stream = await open_stream()
        tasks = receiver.pubsub.manager.stats.tasks.total_count
        await stream.write(rpc)
        assert header_number((await receive_all(received, 1))[0].data) == 7
        for _ in range(20):
            await stream.write(rpc)
        assert await nothing_more(received, 1.0)
        assert receiver.pubsub.manager.stats.tasks.total_count == tasks

        # A forged peer record, too many subscriptions: each RPC is dropped and counted, and
        # the stream still carries the next message.
        forged_record = header_rpc(8)
        forged_record.senderRecord = b"\x0a\x03bad"
        subscriptions = [
            rpc_pb2.RPC.SubOpts(subscribe=True, topicid=f"/t/{n}")
            for n in range(receiver.pubsub.max_subscriptions_per_rpc + 1)
        ]
        for bad in (forged_record, rpc_pb2.RPC(subscriptions=subscriptions), header_rpc(9)):
            await stream.write(encode_varint_prefixed(bad.SerializeToString()))
        assert header_number((await receive_all(received, 1))[0].data) == 7  # only number 9
        assert await nothing_more(received, 0.5)
        assert receiver.drops.counts == {
            "invalid signed peer record": 1,
            "too many subscriptions in one RPC": 1,
        }
        assert sender.get_id() not in receiver.pubsub.peer_topics.get("/t/0", set())

        # An RPC announced above the size limit resets its stream; a new stream is heard.
        await stream.write(encode_uvarint(params.MAX_GOSSIP_MESSAGE + 1))
        with trio.fail_after(10):
            while "pubsub RPC above the size limit; stream reset" not in caplog.messages:
                await trio.sleep(0.05)
        stream = await open_stream()
        await stream.write(encode_varint_prefixed(header_rpc(10).SerializeToString()))
        assert header_number((await receive_all(received, 1))[0].data) == 7


async def test_publisher_restarted_with_its_identity_is_heard_at_once():
    """A node that publishes faster than once a second and restarts with the same identity.

    py-libp2p starts message sequence numbers at the Unix time in seconds, so the restarted
    node reused numbers its first run had spent and every peer dropped its messages as seen.
    """
    identity = create_new_key_pair()
    async with running_hosts(1) as (listener,), running_gossip(
        [listener], TOPIC, validate_header
    ) as ((_, channel),):
        for run, count in ((0, 40), (1, 1)):
            async with running_host(identity) as publisher, running_gossip(
                [publisher], TOPIC, validate_header
            ) as ((gossip, _),):
                await connect(publisher, listener)
                await wait_for_mesh([gossip], TOPIC)
                numbers = {run * 1000 + n for n in range(count)}
                for number in numbers:
                    await gossip.publish(TOPIC, make_header(number))
                got = await receive_all(channel, count, timeout=10)
                assert {header_number(m.data) for m in got} == numbers


async def test_every_subscriber_of_a_topic_gets_every_message():
    async with running_hosts(2) as hosts, running_gossip(hosts, TOPIC, validate_header) as nodes:
        await connect(hosts[1], hosts[0])
        await wait_for_mesh([g for g, _ in nodes], TOPIC)
        (_, first), (receiver, second) = nodes
        third = await receiver.subscribe(TOPIC)
        await nodes[0][0].publish(TOPIC, make_header(1))
        for channel in (first, second, third):
            assert header_number((await receive_all(channel, 1))[0].data) == 1
        await third.aclose()  # a subscriber that leaves does not stop the others
        await nodes[0][0].publish(TOPIC, make_header(2))
        assert header_number((await receive_all(second, 1))[0].data) == 2
        assert receiver.pubsub.undelivered == 0


@pytest.mark.parametrize("size", [100_000, 30_000], ids=["above-a-frame", "one-frame"])
async def test_a_slow_reader_is_sent_no_expired_message_and_holds_up_no_other_peer(size: int):
    """py-libp2p keeps an RPC in a peer's outbound queue until that peer takes it, however
    long: a peer reading slowly was handed job headers past their deadline. Now a message whose
    lifetime (given by its validator) ended while queued is dropped and counted; the other
    peers get everything. Messages of one Yamux frame go out at once while the slow peer's
    window and socket have room (GuardedPubsub.write_now), then through its queue, in order."""
    count, lifetime = 16, 1.5
    taken: list[bytes] = []
    at_once: list[ID] = []

    def intact_for_a_while(data: bytes, origin: ID) -> Verdict:
        if (verdict := validate_intact(data, origin)).outcome is not Outcome.ACCEPT:
            return verdict
        return Verdict.accept(expires_at=time.time() + lifetime)

    async def read_slowly(stream) -> None:
        while True:
            rpc = rpc_pb2.RPC()
            rpc.ParseFromString(await read_varint_prefixed_bytes_limited(stream, 2 * size))
            taken.extend(m.data for m in rpc.publish)
            if rpc.publish:  # the window reopens about once a second: the writer waits, not fails
                await trio.sleep(0.4)

    async with running_hosts(3) as (slow, host, other_host), running_gossip(
        [host, other_host], TOPIC, intact_for_a_while
    ) as ((gossip, _), (_, received)):
        slow.set_stream_handler(TProtocol(params.GOSSIPSUB_PROTOCOLS[0]), read_slowly)
        write_now = gossip.pubsub.write_now

        async def noted(peer: ID, rpc: rpc_pb2.RPC, rpc_size: int) -> bool:
            if written := await write_now(peer, rpc, rpc_size):
                at_once.append(peer)
            return written

        gossip.pubsub.write_now = noted  # type: ignore[method-assign]
        gossip.router.idontwant_threshold = 2 * size  # no IDONTWANT queued ahead of a forward
        await connect(other_host, host)
        await connect(slow, host)
        stream = await slow.new_stream(host.get_id(), [TProtocol(params.GOSSIPSUB_PROTOCOLS[0])])
        join = rpc_pb2.RPC(subscriptions=[rpc_pb2.RPC.SubOpts(subscribe=True, topicid=TOPIC)])
        await stream.write(encode_varint_prefixed(join.SerializeToString()))
        with trio.fail_after(15):
            while not {slow.get_id(), other_host.get_id()} <= gossip.router.mesh.get(TOPIC, set()):
                await trio.sleep(0.05)
        sent = [make_large_payload(n, size) for n in range(count)]
        for data in sent:
            await gossip.publish(TOPIC, data)
        assert {m.data for m in await receive_all(received, count, timeout=30)} == set(sent)

        expired = gossip.outbound_drops.counts
        with trio.fail_after(30):  # each message is either taken by the slow peer or dropped
            while len(taken) + expired[EXPIRED] < count:
                await trio.sleep(0.1)
        assert 0 < len(taken) < count
        assert taken == sent[: len(taken)]  # the oldest went out; what expired did not
        assert gossip.outbound_drops.total == count - len(taken)
        # Below a frame, the first messages (and every one to the other peer) went out at once.
        assert (slow.get_id() in at_once) == (size < MAX_FRAME_PAYLOAD)
        assert at_once.count(other_host.get_id()) == (count if size < MAX_FRAME_PAYLOAD else 0)


async def test_a_peer_that_joins_late_is_replayed_recent_messages_through_its_queue():
    """py-libp2p replays the message cache to a peer that just joined, and flushes what it held
    for it during identify, by writing straight to its stream, past the outbound queue, so an
    expired header went out too. Now both are queued: the live header reaches the newcomer,
    the expired one is dropped and counted."""
    async with running_hosts(3) as hosts, running_gossip(hosts[:2], TOPIC, validate_header) as (
        (publisher, _),
        (_, first),
    ):
        publisher.router.mcache = MessageCache(60, 60)  # recent for a minute: a slow connect
        await connect(hosts[1], hosts[0])  # under load still finds both headers cached
        await wait_for_mesh([publisher], TOPIC)
        short = make_header(1, ttl=1.0)  # its deadline, whole seconds, is at most 1 s away
        await publisher.publish(TOPIC, short)
        await publisher.publish(TOPIC, make_header(2))
        await receive_all(first, 2)
        await trio.sleep(max(0.0, SignedJobHeader.decode(short).header.deadline - time.time()))
        await trio.sleep(0.05)
        async with running_gossip(hosts[2:], TOPIC, validate_header) as ((late, channel),):
            await connect(hosts[2], hosts[0])
            got = await receive_all(channel, 1, timeout=10)
            assert header_number(got[0].data) == 2
            assert await nothing_more(channel, 0.5)
            assert publisher.outbound_drops.counts[EXPIRED] >= 1
            assert late.drops.counts == {}  # nothing expired reached it

            # What was held for a peer while it was being identified takes the same way.
            dropped = publisher.outbound_drops.counts[EXPIRED]
            cached = next(m for m in publisher.router.mcache.msgs.values() if m.data == short)
            held = (time.time(), rpc_pb2.RPC(publish=[cached]))
            publisher.router._pending_messages[hosts[2].get_id()].append(held)
            await publisher.router.flush_pending_messages(hosts[2].get_id())
            with trio.fail_after(5):
                while publisher.outbound_drops.counts[EXPIRED] == dropped:
                    await trio.sleep(0.05)
            assert await nothing_more(channel, 0.5)
            assert late.drops.counts == {}
