"""A new connection's housekeeping streams wait while it carries a request.

Every new connection starts four streams at once: identify and gossipsub, in both directions.
Each end is one single-threaded process, so a fetch on a connection dialed for it had every
round trip of its stream wait behind that work in the other process (27-45 ms before the first
byte of a 1 MB value; bench/p2p_dht.py --trace). `HousekeepingGate` holds those streams back
(nothing else changes on the wire; they merely start later):
- while a request we sent to the peer waits for its answer (the whole value, for a fetch:
  what the value's transfer shares the CPU with delays it), and while we answer a request
  the peer sent (`held(host, peer)`, used by the fetch and the DHT request; a fetch server
  holds until the requester closes its side, i.e. has read the whole value);
- on a connection the peer dialed, for params.HOUSEKEEPING_GRACE seconds first, so that the
  request it dialed for (which follows the muxer negotiation) arrives before they start;
- never longer than params.HOUSEKEEPING_MAX_DELAY seconds, and not at all once the peer has
  disconnected (the stream open then fails as it would have, and its caller gives up).
The gossip mesh forms as before, a few milliseconds later.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import trio
from libp2p.abc import IHost, INetConn, INetwork
from libp2p.custom_types import TProtocol
from libp2p.identity.identify.identify import ID as IDENTIFY_PROTOCOL
from libp2p.peer.id import ID

from p2p import params
from p2p.notifee import Notifee

logger = logging.getLogger(__name__)

HOUSEKEEPING_PROTOCOLS: frozenset[TProtocol] = frozenset(
    {IDENTIFY_PROTOCOL, *(TProtocol(p) for p in params.GOSSIPSUB_PROTOCOLS)}
)


class HousekeepingGate(Notifee):
    """Holds back identify and gossipsub stream opens on a connection that carries a request."""

    def __init__(
        self,
        grace: float = params.HOUSEKEEPING_GRACE,
        max_delay: float = params.HOUSEKEEPING_MAX_DELAY,
    ) -> None:
        self.grace = grace
        self.max_delay = max_delay
        self._requests: Counter[ID] = Counter()  # requests in flight per peer
        self._changed: dict[ID, trio.Event] = {}  # set when a peer's count drops or it leaves

    @contextmanager
    def hold(self, peer: ID) -> Iterator[None]:
        """Hold back `peer`'s housekeeping streams for the duration of the block."""
        self._requests[peer] += 1
        try:
            yield
        finally:
            self._requests[peer] -= 1
            if self._requests[peer] <= 0:
                del self._requests[peer]
            self._wake(peer)

    async def wait(self, peer: ID, inbound: bool) -> None:
        """Return once `peer`'s housekeeping streams may start (see the module docstring)."""
        started = trio.current_time()
        with trio.move_on_after(self.max_delay) as scope:
            if inbound:
                await trio.sleep(self.grace)
            while self._requests[peer]:
                await self._changed.setdefault(peer, trio.Event()).wait()
                if peer not in self._changed:  # it disconnected
                    break
        if scope.cancelled_caught:
            logger.debug("housekeeping streams held back to the limit", extra={"peer": str(peer)})
        logger.debug(
            "housekeeping streams start",
            extra={"peer": str(peer), "held_ms": round(1000 * (trio.current_time() - started))},
        )

    def _wake(self, peer: ID) -> None:
        event = self._changed.get(peer)
        if event is not None:
            event.set()
            self._changed[peer] = trio.Event()

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        event = self._changed.pop(conn.muxed_conn.peer_id, None)  # one connection per peer
        if event is not None:
            event.set()


@contextmanager
def held(host: IHost, peer: ID) -> Iterator[None]:
    """Hold back `peer`'s housekeeping streams on `host` for the block (a host of ours)."""
    gate = getattr(host, "housekeeping", None)
    if not isinstance(gate, HousekeepingGate):
        yield
        return
    with gate.hold(peer):
        yield
