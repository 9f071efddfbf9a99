"""Per-peer outbound gossip queue: bounded in length and age, no expired message sent.

py-libp2p 0.8.1 sends all RPCs to a peer (published and forwarded messages, IWANT replies, the
heartbeat's GRAFT/PRUNE/IHAVE) through one queue per peer, drained by one writer task, so the
heartbeat itself never waits on a peer. But the queue holds an RPC until that peer's stream
takes it, however long that is: behind a peer that reads slowly (a CPU-starved node, a Yamux
window that opens a little at a time; one payload write may take params.STREAM_WRITE_TIMEOUT)
a job header waits tens of seconds and is handed out past its deadline. `FreshQueue` drops,
when it is its turn to be written, every message whose validator gave it a lifetime
(`Verdict.expires_at`, kept in `Lifetimes`) that has ended, and any RPC that waited longer than
params.OUTBOUND_MAX_AGE; it refuses RPCs beyond params.OUTBOUND_QUEUE. Each drop is counted in
an `OutboundDrops`.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import trio
from libp2p.peer.id import ID
from libp2p.pubsub.mcache import default_msg_id_fn
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.rpc_queue import PriorityQueue

from p2p import params

logger = logging.getLogger(__name__)

QUEUE_FULL = "outbound queue full"
STALE = "waited too long in the outbound queue"
EXPIRED = "expired while queued"


class Lifetimes:
    """When each accepted message stops being worth sending (Unix time), by message id.

    An entry is kept params.OUTBOUND_MAX_AGE past its expiry: as long as a copy can be queued.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._expiry: dict[bytes, float] = {}
        self._prune_above = 1024

    def note(self, msg: rpc_pb2.Message, expires_at: float) -> None:
        """Remember that `msg` expires at `expires_at`; forgets expired ones now and then."""
        self._expiry[default_msg_id_fn(msg)] = expires_at
        if len(self._expiry) > self._prune_above:
            keep_after = self.clock() - params.OUTBOUND_MAX_AGE
            self._expiry = {mid: at for mid, at in self._expiry.items() if at >= keep_after}
            self._prune_above = max(1024, 2 * len(self._expiry))

    def __len__(self) -> int:
        return len(self._expiry)

    def expired(self, msg: rpc_pb2.Message) -> bool:
        """Whether `msg` has a lifetime and it has ended."""
        expires_at = self._expiry.get(default_msg_id_fn(msg))
        return expires_at is not None and self.clock() > expires_at


@dataclass
class OutboundDrops:
    """Counts what was not sent, by reason (RPCs; messages for EXPIRED); logs the first drop
    of each peer and reason once."""

    counts: Counter[str] = field(default_factory=Counter)
    max_remembered: int = 10_000
    _logged: set[tuple[ID, str]] = field(default_factory=set)

    def record(self, peer: ID, reason: str, rpc: rpc_pb2.RPC, count: int = 1) -> None:
        """Count `count` drops (of `rpc` or of messages in it) on the way to `peer`."""
        self.counts[reason] += count
        if (peer, reason) in self._logged:
            return
        if len(self._logged) >= self.max_remembered:
            self._logged.clear()
        self._logged.add((peer, reason))
        logger.warning(
            "outbound gossip dropped, not sent late (further drops are only counted)",
            extra={
                "peer": str(peer),
                "reason": reason,
                "messages": len(rpc.publish),
                "control": rpc.HasField("control"),
            },
        )

    @property
    def total(self) -> int:
        """Drops so far."""
        return sum(self.counts.values())


class FreshQueue(PriorityQueue):
    """py-libp2p's two-tier queue (control first), bounded in length and in age.

    Entries are (time queued, RPC) pairs; `pop` hands out RPCs as the base class does.
    """

    def __init__(
        self,
        peer: ID,
        drops: OutboundDrops,
        max_age: float = params.OUTBOUND_MAX_AGE,
        lifetimes: Lifetimes | None = None,
        max_size: int = params.OUTBOUND_QUEUE,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        super().__init__(max_size)
        self.peer = peer
        self.drops = drops
        self.max_age = max_age
        self.lifetimes = lifetimes if lifetimes is not None else Lifetimes()
        self.clock = clock
        self._priority: deque[tuple[float, rpc_pb2.RPC]] = deque()  # type: ignore[assignment]
        self._non_priority: deque[tuple[float, rpc_pb2.RPC]] = deque()  # type: ignore[assignment]

    def push(self, rpc: rpc_pb2.RPC, priority: bool = False) -> bool:
        """Queue `rpc`; False (counted) if the queue is full."""
        if len(self) >= self.max_size:
            self.drops.record(self.peer, QUEUE_FULL, rpc)
            return False
        (self._priority if priority else self._non_priority).append((self.clock(), rpc))
        return True

    def pop(self) -> rpc_pb2.RPC | None:
        """The oldest fresh RPC (control first), without its expired messages; what is
        dropped is counted."""
        now = self.clock()
        for tier in (self._priority, self._non_priority):
            while tier:
                queued_at, rpc = tier.popleft()
                if now - queued_at > self.max_age:
                    self.drops.record(self.peer, STALE, rpc)
                    continue
                rpc = self._without_expired(rpc)
                if _carries_anything(rpc):
                    return rpc
        return None

    def _without_expired(self, rpc: rpc_pb2.RPC) -> rpc_pb2.RPC:
        """`rpc`, or if some of its messages expired, a copy without them (`rpc` may be
        shared with other peers' queues, so it is not changed); the expired are counted."""
        fresh = [msg for msg in rpc.publish if not self.lifetimes.expired(msg)]
        if len(fresh) == len(rpc.publish):
            return rpc
        self.drops.record(self.peer, EXPIRED, rpc, count=len(rpc.publish) - len(fresh))
        without = rpc_pb2.RPC()
        without.CopyFrom(rpc)
        del without.publish[:]
        without.publish.extend(fresh)
        return without

    def adopt(self, old: PriorityQueue) -> None:
        """Take over the RPCs waiting in py-libp2p's queue `old`, in their tiers."""
        for tier, priority in ((old._priority, True), (old._non_priority, False)):
            while tier:
                self.push(tier.popleft(), priority)


def _carries_anything(rpc: rpc_pb2.RPC) -> bool:
    return bool(rpc.publish or rpc.subscriptions or rpc.HasField("control"))
