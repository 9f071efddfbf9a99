"""GossipSub with hardened parameters, per-topic validators and scoring that acts.

Each topic has a caller-supplied validator (p2p.validation.TopicValidator). A message is
forwarded only after its validator accepts it; a rejected one is dropped, counted, logged once
per peer and lowers the forwarding peer's score. Below the gossip threshold a peer gets no
IHAVE/IWANT gossip; below the publish threshold its messages are neither delivered nor
forwarded and it is sent none; below the graylist threshold its GRAFTs are refused too.

py-libp2p 0.8.1 behaviours worked around here (each has a test in tests/p2p/test_gossip.py):
- spam protection counts our own publishes: above 10/s per topic they are silently not sent;
- scoring never acts and forgets peers on disconnect (see p2p.scoring);
- heartbeat defaults to 120 s (spec: 1 s);
- subscription and per-peer outbound queues hold 32 messages and drop bursts, and an RPC
  waits in a slow peer's outbound queue however long that peer takes (see p2p.outbound);
- an undecodable RPC (protobuf DecodeError) escapes the stream handler and stops the node;
- every new message read is handled in a service task of its own, whose spawn alone costs
  ~0.2 ms of CPU; messages are handled where they are read;
- every RPC carries our signed peer record, which each receiver parses and checks (an Ed25519
  verification, ~180 µs) for every message of every hop; it now travels once per stream, in
  the hello RPC;
- message sequence numbers start at the Unix time in seconds, so a node restarted with its
  identity had its messages dropped as already seen; they start at the time in nanoseconds;
- a forward's peers are chosen in several set passes with three scorer calls per peer, and
  every forward waits for the peer's writer task; a one-topic mesh forward is chosen in one
  pass (the same peers) and written at once when nothing waits for that peer;
- a pubsub stream takes a trio.Lock (a scheduler pass) on every read and write; it takes a
  p2p.locks.QuickLock instead (tests/p2p/test_locks.py).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

import trio
from libp2p.abc import IHost
from libp2p.custom_types import TProtocol
from libp2p.io.exceptions import IOException, MessageTooLarge
from libp2p.network.connection.exceptions import RawConnError
from libp2p.network.stream.exceptions import StreamClosed, StreamEOF, StreamError, StreamReset
from libp2p.network.stream.net_stream import INetStream, NetStream
from libp2p.peer.id import ID
from libp2p.pubsub.gossipsub import GossipSub
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub
from libp2p.pubsub.rpc_queue import RpcQueue
from libp2p.pubsub.score import PeerScorer
from libp2p.pubsub.utils import maybe_consume_signed_record
from libp2p.pubsub.validators import signature_validator
from libp2p.tools.anyio_service import background_trio_service

from p2p import params
from p2p.bufstream import MAX_PREFIX, BufferedStream
from p2p.locks import QuickLock
from p2p.outbound import FreshQueue, Lifetimes, OutboundDrops
from p2p.rpc_frames import SharedRPCs, publish_only
from p2p.scoring import PenaltyLedger, SpecScorer, score_params
from p2p.validation import DropLog, Outcome, TopicValidator, Verdict, run_validator
from p2p.yamux import SerialYamuxStream

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GossipMessage:
    """A validated gossip message as delivered to the application."""

    topic: str
    data: bytes
    origin: ID


class HardenedGossipSub(GossipSub):
    """GossipSub router: no rate limit on our own publishes, IDONTWANT only for large messages,
    every RPC through the peer's outbound queue unless it can go out at once.

    py-libp2p sends an IDONTWANT control RPC to every mesh peer for every message, however
    small; go-libp2p does so only above 1 KiB (IDontWantMessageThreshold), as here. For job
    headers this halves the RPCs per hop.

    py-libp2p hands a new peer the messages held while it was being identified
    (`flush_pending_messages`) and the message cache's recent ones (`send_recent_messages`)
    by writing them straight to its stream, past the outbound queue: a slow peer held up the
    caller, and an expired job header went out. Both queue them instead (`send_rpc`).

    A message forwarded to several peers is queued for all of them as one shared RPC, encoded
    once (p2p.rpc_frames). A forward to a peer whose writer is idle and whose stream takes it
    without waiting is written at once, not handed to that peer's writer task (`publish`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shared_rpcs = SharedRPCs()
        self.idontwant_threshold = params.IDONTWANT_THRESHOLD

    async def flush_pending_messages(self, peer_id: ID) -> None:
        """Queue for `peer_id` the messages held while it was being identified, those of
        topics it joined and that it may be sent."""
        self._prune_pending_messages(peer_id)
        pending = self._pending_messages.pop(peer_id, [])
        joined = self._topics_of(peer_id)
        for _, rpc in pending:
            topics = [topic for msg in rpc.publish for topic in msg.topicIDs]
            if joined.intersection(topics) and self._may_send(peer_id, topics):
                self.send_rpc(peer_id, rpc)

    async def send_recent_messages(self, peer_id: ID, topic: str) -> None:
        """Queue for `peer_id`, which just joined `topic`, the topic's recent messages."""
        for msg_id in self.mcache.window(topic):
            msg = self.mcache.get(msg_id)
            if msg is not None and self._may_send(peer_id, list(msg.topicIDs)):
                self.send_rpc(peer_id, rpc_pb2.RPC(publish=[msg]))

    def _topics_of(self, peer_id: ID) -> set[str]:
        if self.pubsub is None:
            return set()
        return {topic for topic, peers in self.pubsub.peer_topics.items() if peer_id in peers}

    def _may_send(self, peer_id: ID, topics: list[str]) -> bool:
        return self.scorer is None or self.scorer.allow_publish(peer_id, topics)

    async def _emit_idontwant_for_message(self, msg_id: bytes, topic_ids: Iterable[str]) -> None:
        msg = self.mcache.get(msg_id)
        if msg is not None and msg.ByteSize() < self.idontwant_threshold:
            return
        await super()._emit_idontwant_for_message(msg_id, topic_ids)

    def send_rpc(self, peer_id: ID, rpc: rpc_pb2.RPC, priority: bool = False) -> None:
        """Queue `rpc` for `peer_id`; a publish-only RPC as the copy shared by every peer it
        goes to (p2p.rpc_frames), other RPCs as py-libp2p does."""
        queue = self.pubsub.peer_queues.get(peer_id) if self.pubsub is not None else None
        if queue is None or not publish_only(rpc) or peer_id in self._pending_control:
            super().send_rpc(peer_id, rpc, priority)
            return
        shared, size = self.shared_rpcs.share(rpc)
        if size > queue.max_message_size:
            self._handle_dropped_rpc(peer_id, shared, "oversized")
        elif not queue.push(shared, priority=priority):
            self._handle_dropped_rpc(peer_id, shared, "queue_full")

    async def publish(self, msg_forwarder: ID, pubsub_msg: rpc_pb2.Message) -> None:
        """Forward a validated message to its topic's mesh peers.

        py-libp2p's forward builds the peer set through several set comprehensions, asks the
        scorer up to three times per peer, attaches our signed peer record (write_msg drops it:
        the stream's hello carries it) and constructs the origin's peer id once per connected
        peer. For a message of one topic we are in the mesh of, without direct peers, this
        sends it to the same peers (not its forwarder nor its origin, none that sent IDONTWANT
        for it, none below the gossip, graylist or publish thresholds), and queues it for
        peers not yet identified or subscribed, as py-libp2p does; anything else (fanout,
        several topics, direct peers) takes py-libp2p's path. A forward is written at once
        when the peer's writer is idle and its stream takes it without waiting
        (GuardedPubsub.write_now: no hand-over to the writer task), else queued.
        """
        topics = list(pubsub_msg.topicIDs)
        pubsub = self.pubsub
        if pubsub is None or len(topics) != 1 or topics[0] not in self.mesh or self.direct_peers:
            await super().publish(msg_forwarder, pubsub_msg)
            return
        if not self._check_spam_protection(msg_forwarder, pubsub_msg):
            return
        if not self._check_equivocation(pubsub_msg):
            return
        self.mcache.put(pubsub_msg)
        msg_id = pubsub.get_message_id(pubsub_msg)
        await self._emit_idontwant_for_message(msg_id, topics)
        await self._notify_observers(topics, msg_id)
        topic, origin = topics[0], ID(pubsub_msg.from_id)
        rpc = rpc_pb2.RPC(publish=[pubsub_msg])
        for peer in self._forward_peers(topic, topics, msg_id, (msg_forwarder, origin)):
            if peer in self._pending_control or not await self._send_at_once(peer, rpc):
                self.send_rpc(peer, rpc)
        self._hold_for_unready_peers(topic, rpc, (msg_forwarder, origin))
        now = time.time()
        self.time_since_last_publish[topic] = int(now)
        self.recent_message_deliveries[topic].append(now)

    async def _send_at_once(self, peer: ID, rpc: rpc_pb2.RPC) -> bool:
        """Write `rpc` (as the copy shared by every peer) to `peer` now if nothing is waiting
        for it and it goes out without waiting (GuardedPubsub.write_now); False if it must
        be queued."""
        if not isinstance(self.pubsub, GuardedPubsub):
            return False
        shared, size = self.shared_rpcs.share(rpc)
        return await self.pubsub.write_now(peer, shared, size)

    def _forward_peers(
        self, topic: str, topics: list[str], msg_id: bytes, skip: tuple[ID, ID]
    ) -> list[ID]:
        """The mesh peers of `topic` a new message goes to."""
        assert self.pubsub is not None
        peers, scorer, dont_send = self.pubsub.peers, self.scorer, self.dont_send_message_ids
        chosen: list[ID] = []
        if topic not in self.pubsub.peer_topics:
            return chosen
        for peer in self.mesh[topic]:
            if peer in skip or peer not in peers or msg_id in dont_send.get(peer, ()):
                continue
            if scorer is not None and not (
                scorer.allow_gossip(peer, topics)
                and not scorer.is_graylisted(peer, topics)
                and scorer.allow_publish(peer, topics)
            ):
                continue
            chosen.append(peer)
        return chosen

    def _hold_for_unready_peers(self, topic: str, rpc: rpc_pb2.RPC, skip: tuple[ID, ID]) -> None:
        """Queue `rpc` for peers whose protocol or subscriptions we do not know yet (sent
        once they are, by flush_pending_messages), as py-libp2p does."""
        assert self.pubsub is not None
        in_topic = self.pubsub.peer_topics.get(topic, set())
        unready = [p for p in in_topic if p not in self.peer_protocol]
        unready += [p for p in self.pubsub.peers if p not in in_topic]
        now = time.time()
        for peer in dict.fromkeys(unready):
            if peer not in skip:
                self._prune_pending_messages(peer)
                self._pending_messages[peer].append((now, rpc))

    def _check_spam_protection(self, peer_id: ID, msg: rpc_pb2.Message) -> bool:
        if self.pubsub is not None and peer_id == self.pubsub.my_id:
            return True
        return super()._check_spam_protection(peer_id, msg)


def make_router(ledger: PenaltyLedger) -> HardenedGossipSub:
    """A GossipSub router with the spec's 1 s heartbeat and acting scores."""
    router = HardenedGossipSub(
        protocols=[TProtocol(p) for p in params.GOSSIPSUB_PROTOCOLS],
        degree=params.MESH_DEGREE,
        degree_low=params.MESH_DEGREE_LOW,
        degree_high=params.MESH_DEGREE_HIGH,
        heartbeat_interval=params.HEARTBEAT_INTERVAL,
        heartbeat_initial_delay=params.HEARTBEAT_INITIAL_DELAY,
        max_messages_per_topic_per_second=params.MAX_MESSAGES_PER_PEER_PER_SECOND,
    )
    router.scorer = SpecScorer(score_params(ledger))
    return router


class GuardedPubsub(Pubsub):
    """Pubsub that validates with our topic validators, never dies, and never drops silently.

    Delivery to the application goes through our own bounded channels (`deliveries`, one per
    subscriber of a topic), sized by params.SUBSCRIPTION_QUEUE; a full channel is counted and
    logged, not silently skipped. Each peer's outbound queue is a `p2p.outbound.FreshQueue`:
    a message past the lifetime its validator gave it (`Verdict.expires_at`), or an RPC a slow
    peer did not take within `outbound_max_age` seconds, is dropped and counted, not sent.
    """

    def __init__(
        self,
        host: IHost,
        router: HardenedGossipSub,
        validators: Mapping[str, TopicValidator],
        ledger: PenaltyLedger,
    ) -> None:
        super().__init__(
            host,
            router,
            strict_signing=True,
            seen_ttl=params.SEEN_TTL,
            max_inbound_rpc_size=params.MAX_GOSSIP_MESSAGE,
            allowed_topics=set(validators),
        )
        # py-libp2p starts sequence numbers at the Unix time in *seconds* and adds one per
        # publish, so a node that published faster than 1/s and restarts with its identity
        # reuses (sender, seqno) message ids its peers still remember as seen, and its new
        # messages are dropped as duplicates. Nanoseconds, as go-libp2p does.
        self.counter = time.time_ns()
        self.validators = dict(validators)
        self.ledger = ledger
        self.drops = DropLog()
        self.deliveries: dict[str, list[trio.MemorySendChannel[GossipMessage]]] = {}
        self.undelivered = 0
        self.outbound_drops = OutboundDrops()
        self.outbound_max_age = params.OUTBOUND_MAX_AGE
        self.lifetimes = Lifetimes()
        self._writing: Counter[ID] = Counter()  # writes under way, by peer

    @property
    def scorer(self) -> PeerScorer:
        """The router's peer scorer."""
        return self.router.scorer

    async def push_msg(self, msg_forwarder: ID, msg: rpc_pb2.Message) -> None:
        """Drop duplicates, validate once, then deliver and forward.

        Replaces py-libp2p's push path, which verifies the pubsub signature a second time
        (after `_admit` did) and runs its own topic validators (this class uses none) through a
        list-based cache; the steps kept are the same, in the same order.
        """
        try:
            origin = ID(msg.from_id)
            if self._is_msg_seen(msg) or {msg_forwarder, origin} & self.blacklisted_peers:
                return
            if not self._admit(msg_forwarder, msg):
                return
            self._mark_msg_seen(msg)
            for topic in msg.topicIDs:
                self.scorer.on_first_delivery(msg_forwarder, topic)
            if origin == self.my_id and msg_forwarder != self.my_id:
                return  # claims to be ours but was not published here
            self.notify_subscriptions(msg)
            await self.router.publish(msg_forwarder, msg)
        except Exception as exc:  # a message must never stop the node
            logger.warning(
                "gossip message processing failed",
                extra={"peer": str(msg_forwarder), "error": repr(exc)},
            )

    async def continuously_read_stream(self, stream: INetStream) -> None:
        """Read a peer's RPCs and handle each one where it is read.

        py-libp2p spawns a service task for every new message it reads (~0.2 ms of CPU each:
        the spawn searches the service's task tree), then schedules it; handling it here costs
        neither, and a peer's messages are handled in the order it sent them. Duplicates are
        dropped on their message id before anything else. RPCs are cut from the stream's read
        buffer (`BufferedStream.read_prefixed`). The errors that end the loop are
        py-libp2p's.
        """
        peer_id = stream.muxed_conn.peer_id
        reader = stream if isinstance(stream, BufferedStream) else BufferedStream(stream)
        try:
            while self.manager.is_running:
                data = await reader.read_prefixed(self.max_inbound_rpc_size)
                await self._handle_rpc(peer_id, rpc_pb2.RPC.FromString(data))
        except MessageTooLarge as error:
            logger.warning(
                "pubsub RPC above the size limit; stream reset",
                extra={"peer": str(peer_id), "error": str(error)},
            )
            with suppress(Exception):
                await stream.reset()
            self._handle_dead_peer(peer_id)
        except (StreamEOF, StreamError, IOException, RawConnError) as error:
            logger.debug("pubsub stream ended", extra={"peer": str(peer_id), "error": repr(error)})

    async def _handle_rpc(self, peer_id: ID, rpc: rpc_pb2.RPC) -> None:
        if not maybe_consume_signed_record(rpc, self.host, peer_id):
            self.drops.record(peer_id, "", Verdict.reject("invalid signed peer record"))
            return
        for msg in rpc.publish:
            if self._is_subscribed_to_msg(msg) and not self._is_msg_seen(msg):
                await self.push_msg(peer_id, msg)
        if len(rpc.subscriptions) > self.max_subscriptions_per_rpc:
            self.drops.record(peer_id, "", Verdict.reject("too many subscriptions in one RPC"))
        else:
            for subscription in rpc.subscriptions:
                self.handle_subscription(peer_id, subscription)
        if rpc.HasField("control"):
            await self.router.handle_rpc(rpc, peer_id)

    def _admit(self, forwarder: ID, msg: rpc_pb2.Message) -> bool:
        topics = list(msg.topicIDs)
        topic = topics[0] if topics else ""
        verdict = self._check(forwarder, msg, topics)
        if verdict.outcome is Outcome.ACCEPT:
            if verdict.expires_at is not None:
                self.lifetimes.note(msg, verdict.expires_at)
            return True
        self.drops.record(forwarder, topic, verdict)
        if verdict.outcome is Outcome.REJECT and forwarder != self.my_id:
            self.ledger.add(forwarder, params.INVALID_MESSAGE_PENALTY)
        return False

    def _check(self, forwarder: ID, msg: rpc_pb2.Message, topics: list[str]) -> Verdict:
        if forwarder != self.my_id and not self.scorer.allow_publish(forwarder, topics):
            return Verdict.ignore("peer score below publish threshold")
        if len(topics) != 1 or topics[0] not in self.validators:
            return Verdict.reject(f"unexpected topics {topics!r}")
        try:
            signed = signature_validator(msg)
        except Exception:
            signed = False
        if not signed:
            return Verdict.reject("bad pubsub signature")
        return run_validator(self.validators[topics[0]], msg.data, ID(msg.from_id))

    def notify_subscriptions(self, publish_message: rpc_pb2.Message) -> None:
        """Deliver a validated message to each subscriber's bounded channel."""
        for topic in publish_message.topicIDs:
            message = GossipMessage(topic, publish_message.data, ID(publish_message.from_id))
            for channel in list(self.deliveries.get(topic, ())):
                try:
                    channel.send_nowait(message)
                except trio.WouldBlock:
                    self.undelivered += 1
                    logger.warning(
                        "subscriber is not keeping up; message not delivered",
                        extra={"topic": topic, "undelivered": self.undelivered},
                    )
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    self.deliveries[topic].remove(channel)  # that subscriber left

    async def handle_sending_messages(
        self, peer_id: ID, stream: INetStream, queue: RpcQueue
    ) -> None:
        """Write the RPCs queued for `peer_id` until its queue closes or its stream breaks
        (py-libp2p's loop, noting while it writes: see `write_now`)."""
        try:
            while (rpc := await queue.pop()) is not None:
                if not await self._write_noted(peer_id, stream, rpc):
                    return
        except Exception as exc:  # as py-libp2p: a broken writer drops the peer
            logger.debug("outbound writer ended", extra={"peer": str(peer_id), "error": repr(exc)})
            self._handle_dead_peer(peer_id)

    async def write_now(self, peer_id: ID, rpc: rpc_pb2.RPC, size: int) -> bool:
        """Write a forward to `peer_id` at once, without its writer task, if its queue is
        empty, its writer idle and its stream takes `size` bytes without waiting (one Yamux
        frame in the send window, a socket with room; SerialYamuxStream.writes_at_once).
        False if it must be queued: a slow peer's forwards still wait in its FreshQueue,
        with their lifetimes and age limits."""
        stream, queue = self.peers.get(peer_id), self.peer_queues.get(peer_id)
        if stream is None or queue is None or self._writing[peer_id] or len(queue):
            return False
        muxed = getattr(stream, "muxed_stream", None)
        if size > queue.max_message_size or not isinstance(muxed, SerialYamuxStream):
            return False
        if not muxed.writes_at_once(size + MAX_PREFIX):  # the RPC and its length prefix
            return False
        try:
            await self._write_noted(peer_id, stream, rpc)
        except Exception as exc:  # as the writer loop: a broken stream drops the peer
            logger.debug("forward write failed", extra={"peer": str(peer_id), "error": repr(exc)})
            self._handle_dead_peer(peer_id)
        return True

    async def _write_noted(self, peer_id: ID, stream: INetStream, rpc: rpc_pb2.RPC) -> bool:
        self._writing[peer_id] += 1
        try:
            return await self.write_msg(stream, rpc)
        finally:
            self._writing[peer_id] -= 1
            if not self._writing[peer_id]:
                del self._writing[peer_id]

    async def write_msg(self, stream: INetStream, rpc_msg: rpc_pb2.RPC) -> bool:
        """Write an RPC without our signed peer record (the stream's hello carried it); one
        shared by several peers is encoded once (p2p.rpc_frames). False if the stream is
        gone (the peer is then dropped, as py-libp2p does)."""
        rpc_msg.ClearField("senderRecord")
        try:
            await stream.write(self.router.shared_rpcs.frame(rpc_msg))
        except (StreamClosed, StreamReset):
            logger.debug("pubsub stream gone", extra={"peer": str(stream.muxed_conn.peer_id)})
            self._handle_dead_peer(stream.muxed_conn.peer_id)
            return False
        return True

    async def stream_handler(self, stream: INetStream) -> None:
        """Read a peer's pubsub stream; bytes that are not an RPC cost score, not the node."""
        peer = stream.muxed_conn.peer_id
        quicken(stream)
        try:
            await super().stream_handler(BufferedStream(stream))  # type: ignore[arg-type]
        except Exception as exc:
            self.drops.record(peer, "", Verdict.reject(f"undecodable RPC: {type(exc).__name__}"))
            self.ledger.add(peer, params.GARBAGE_STREAM_PENALTY)
            try:
                await stream.reset()
            except Exception:
                logger.debug("reset of a broken pubsub stream failed", extra={"peer": str(peer)})
            self._handle_dead_peer(peer)

    async def _handle_new_peer(self, peer_id: ID) -> None:
        await super()._handle_new_peer(peer_id)
        stream = self.peers.get(peer_id)
        if stream is not None:
            quicken(stream)
        queue = self.peer_queues.get(peer_id)
        if queue is not None and not isinstance(queue._queue, FreshQueue):
            # py-libp2p's RpcQueue holds 32 RPCs, each for as long as the peer takes.
            fresh = FreshQueue(peer_id, self.outbound_drops, self.outbound_max_age, self.lifetimes)
            fresh.adopt(queue._queue)
            queue._queue = fresh


def quicken(stream: INetStream) -> None:
    """Let `stream` read and write without a pass through trio's scheduler when no other task
    holds its state lock (py-libp2p's NetStream takes it on every read and write, each time a
    task switch); its states and errors stay py-libp2p's."""
    if isinstance(stream, NetStream):
        stream._state_lock = QuickLock()  # type: ignore[assignment]


class Gossip:
    """The node's gossip service: subscribe with a validator per topic, publish, read."""

    def __init__(self, host: IHost, validators: Mapping[str, TopicValidator]) -> None:
        self.ledger = PenaltyLedger()
        self.router = make_router(self.ledger)
        self.pubsub = GuardedPubsub(host, self.router, validators, self.ledger)

    @asynccontextmanager
    async def run(self) -> AsyncIterator[Gossip]:
        """Run pubsub and the router for the duration of the block."""
        async with background_trio_service(self.pubsub), background_trio_service(self.router):
            await self.pubsub.wait_until_ready()
            yield self

    async def subscribe(self, topic: str) -> trio.MemoryReceiveChannel[GossipMessage]:
        """Join `topic` (it must have a validator) and return a channel of its messages.

        Each call gets its own channel with every message (several parts of a node may read
        one topic); a subscriber that is done closes its channel.
        """
        if topic not in self.pubsub.validators:
            raise ValueError(f"no validator for topic {topic!r}; pass one to Gossip()")
        send, receive = trio.open_memory_channel[GossipMessage](params.SUBSCRIPTION_QUEUE)
        channels = self.pubsub.deliveries.setdefault(topic, [])
        channels.append(send)
        if len(channels) == 1:
            await self.pubsub.subscribe(topic)
        return receive

    async def publish(self, topic: str, data: bytes) -> None:
        """Sign and publish `data`; it is validated locally like any received message."""
        if topic not in self.pubsub.validators:
            raise ValueError(f"no validator for topic {topic!r}; pass one to Gossip()")
        await self.pubsub.publish(topic, data)

    def score(self, peer: ID) -> float:
        """The peer's current score over all our topics."""
        return self.pubsub.scorer.score(peer, list(self.pubsub.validators))

    @property
    def drops(self) -> DropLog:
        """Counts of dropped messages by reason."""
        return self.pubsub.drops

    @property
    def outbound_drops(self) -> OutboundDrops:
        """Counts of outbound RPCs (and expired messages) dropped, not sent late, by reason."""
        return self.pubsub.outbound_drops
