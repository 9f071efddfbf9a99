"""The per-peer outbound queue: control first, bounded in length and age, drops counted."""

from __future__ import annotations

from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.id import ID
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.rpc_queue import PriorityQueue

from p2p import params
from p2p.outbound import EXPIRED, QUEUE_FULL, STALE, FreshQueue, Lifetimes, OutboundDrops

PEER = ID.from_pubkey(create_new_key_pair().public_key)


def rpc(n: int) -> rpc_pb2.RPC:
    return rpc_pb2.RPC(publish=[rpc_pb2.Message(seqno=n.to_bytes(8, "big"))])


def control(topic: str) -> rpc_pb2.RPC:
    return rpc_pb2.RPC(control=rpc_pb2.ControlMessage(graft=[rpc_pb2.ControlGraft(topicID=topic)]))


def queue(max_size: int = 10, max_age: float = 5.0) -> tuple[FreshQueue, list[float]]:
    """A queue and its clock (one clock for queueing times and lifetimes, for the test)."""
    now = [100.0]
    clock = lambda: now[0]  # noqa: E731
    fresh = FreshQueue(PEER, OutboundDrops(), max_age, Lifetimes(clock), max_size, clock)
    return fresh, now


def test_control_goes_first_then_messages_in_order():
    fresh, _ = queue()
    for item, priority in ((rpc(1), False), (control("a"), True), (rpc(2), False)):
        assert fresh.push(item, priority)
    assert [fresh.pop() for _ in range(4)] == [control("a"), rpc(1), rpc(2), None]
    assert fresh.drops.total == 0


def test_a_full_queue_refuses_and_counts():
    fresh, _ = queue(max_size=2)
    assert fresh.push(rpc(1)) and fresh.push(rpc(2))
    assert not fresh.push(rpc(3)) and not fresh.push(control("a"), priority=True)
    assert fresh.drops.counts == {QUEUE_FULL: 2}
    assert [fresh.pop(), fresh.pop(), fresh.pop()] == [rpc(1), rpc(2), None]


def test_what_waited_too_long_is_dropped_not_handed_out():
    fresh, now = queue(max_age=5.0)
    fresh.push(rpc(1))
    fresh.push(control("a"), priority=True)
    now[0] += 4.0
    fresh.push(rpc(2))
    now[0] += 1.5  # the first two are 5.5 s old, the last 1.5 s
    assert fresh.pop() == rpc(2)
    assert fresh.pop() is None
    assert fresh.drops.counts == {STALE: 2}
    assert len(fresh) == 0


def test_adopting_py_libp2ps_queue_keeps_order_and_tiers():
    old = PriorityQueue(32)
    old.push(rpc(1))
    old.push(control("a"), priority=True)
    old.push(rpc(2))
    fresh, _ = queue()
    fresh.adopt(old)
    assert len(old) == 0
    assert [fresh.pop() for _ in range(3)] == [control("a"), rpc(1), rpc(2)]


def test_expired_messages_are_taken_out_and_an_rpc_left_empty_is_not_sent():
    fresh, now = queue(max_age=60.0)
    short, long = rpc(1).publish[0], rpc(2).publish[0]
    fresh.lifetimes.note(short, expires_at=now[0] + 1)
    fresh.lifetimes.note(long, expires_at=now[0] + 30)
    fresh.push(rpc_pb2.RPC(publish=[short, long]))
    fresh.push(rpc_pb2.RPC(publish=[short]))
    fresh.push(rpc(3))  # no lifetime: only the queue's age limit applies
    now[0] += 2
    assert fresh.pop() == rpc_pb2.RPC(publish=[long])
    assert fresh.pop() == rpc(3)
    assert fresh.pop() is None
    assert fresh.drops.counts == {EXPIRED: 2}


def test_lifetimes_forget_messages_that_can_no_longer_be_queued():
    now = [0.0]
    lifetimes = Lifetimes(lambda: now[0])
    for n in range(1000):
        lifetimes.note(rpc(n).publish[0], expires_at=1.0)
    now[0] = 1.0 + params.OUTBOUND_MAX_AGE + 1  # no queue holds those any more
    for n in range(1000, 1100):
        lifetimes.note(rpc(n).publish[0], expires_at=now[0] + 10)
    assert len(lifetimes) == 100
    assert not lifetimes.expired(rpc(1099).publish[0])
    now[0] += 11
    assert lifetimes.expired(rpc(1099).publish[0])


def test_an_rpc_shared_by_several_queues_is_not_changed_by_one_of_them():
    """A forwarded message is queued for every peer as one shared RPC (p2p.rpc_frames): one
    queue dropping its expired messages must leave the other queues' RPC whole."""
    now = [100.0]
    clock = lambda: now[0]  # noqa: E731
    lifetimes = Lifetimes(clock)
    queues = [FreshQueue(PEER, OutboundDrops(), 60.0, lifetimes, 10, clock) for _ in range(2)]
    short, long = rpc(1).publish[0], rpc(2).publish[0]
    lifetimes.note(short, expires_at=now[0] + 1)
    shared = rpc_pb2.RPC(publish=[short, long])
    for fresh in queues:
        fresh.push(shared)
    now[0] += 2
    assert [fresh.pop() for fresh in queues] == [rpc_pb2.RPC(publish=[long])] * 2
    assert shared == rpc_pb2.RPC(publish=[short, long])
    assert [fresh.drops.counts for fresh in queues] == [{EXPIRED: 1}] * 2
