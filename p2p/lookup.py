"""Kademlia lookups that stop at the first answer: one walk, `params.DHT_ALPHA` queries at once.

py-libp2p 0.8.1's `get_value` and `find_providers` first run a complete iterative FIND_NODE
for the key (every reachable peer near it, each on a new stream), and only then ask those
peers for the value or its providers, one more stream each, and `get_value` writes the value
back to the peers that lacked it before returning: on six nodes a get by key cost 0.7-1.6 s
and 25-29 streams. The standard GET_VALUE and GET_PROVIDERS requests already answer with the
record (or providers) when the peer has them and with closer peers otherwise, so one walk does
both: it asks the closest peers not yet asked, `alpha` at a time, adds the closer peers each
answer names, and stops at the first answer the caller accepts. Messages and protocol id are
the standard ones (/ipfs/kad/1.0.0), so any Kademlia server answers.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, TypeVar

import trio
from libp2p.kad_dht.utils import sort_peer_ids_by_distance
from libp2p.peer.id import ID

from p2p import params

logger = logging.getLogger(__name__)

T = TypeVar("T")

Query = Callable[[ID], Awaitable[tuple["T | None", list[ID]]]]
"""Ask one peer: returns (an accepted answer or None, the closer peers it named)."""


class Walk(Generic[T]):
    """One lookup towards `target`, starting from `start` (the routing table's closest);
    each peer's query is cut off after `query_timeout` seconds. While `busy()` is true (a
    query is fetching the value from a provider), no new query starts: the fetch gets the CPU
    and the network; `busy()` is looked at again at least every `recheck` seconds."""

    def __init__(
        self,
        target: bytes,
        start: Iterable[ID],
        query: Query[T],
        own_id: ID,
        alpha: int = params.DHT_ALPHA,
        query_timeout: float = params.DHT_QUERY_TIMEOUT,
        busy: Callable[[], bool] = lambda: False,
        recheck: float = params.WALK_BUSY_RECHECK,
    ) -> None:
        self.target = target
        self.query_timeout = query_timeout
        self.query = query
        self.own_id = own_id
        self.alpha = alpha
        self.busy = busy
        self.recheck = recheck
        self.asked: set[ID] = set()
        self.candidates: list[ID] = []
        self._add(start)

    async def run(self) -> T | None:
        """The first answer any peer gives, or None once every peer found was asked."""
        send, receive = trio.open_memory_channel[tuple["T | None", list[ID]]](math.inf)
        in_flight = 0
        async with trio.open_nursery() as nursery:
            while True:
                while in_flight < self.alpha and self.candidates and not self.busy():
                    peer = self.candidates.pop(0)
                    self.asked.add(peer)
                    nursery.start_soon(self._ask, peer, send)
                    in_flight += 1
                if in_flight == 0:
                    return None
                held_back = bool(self.candidates) and in_flight < self.alpha
                with trio.move_on_after(self.recheck if held_back else math.inf):
                    answer, closer = await receive.receive()
                    in_flight -= 1
                    if answer is not None:
                        nursery.cancel_scope.cancel()
                        return answer
                    self._add(closer)

    def _add(self, peers: Iterable[ID]) -> None:
        new = [p for p in peers if p != self.own_id and p not in self.asked]
        self.candidates = sort_peer_ids_by_distance(self.target, list({*self.candidates, *new}))

    async def _ask(self, peer: ID, results: trio.MemorySendChannel) -> None:
        answer, closer = None, []
        try:
            with trio.move_on_after(self.query_timeout):
                answer, closer = await self.query(peer)
        except Exception as exc:  # a peer that fails is one fewer answer, not a failed lookup
            logger.debug("DHT query failed", extra={"peer": str(peer), "error": repr(exc)})
        results.send_nowait((answer, closer))
