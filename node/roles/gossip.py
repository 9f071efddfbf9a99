"""What every role does on the gossip topics: join them all, and re-publish what is open."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import trio

from node.roles.services import Services
from p2p import params
from p2p.gossip import Gossip, GossipMessage

log = logging.getLogger(__name__)


async def subscribe_all(gossip: Gossip) -> dict[str, trio.MemoryReceiveChannel[GossipMessage]]:
    """Join every job topic (so that this node forwards them all) and return their channels.

    A role reads the channels it needs; the others must be drained by `drain_unread`.
    """
    return {topic: await gossip.subscribe(topic) for topic in params.ALL_TOPICS}


async def drain_unread(
    channels: dict[str, trio.MemoryReceiveChannel[GossipMessage]], read: set[str]
) -> None:
    """Read and drop the messages of the topics this role does not use."""
    async with trio.open_nursery() as nursery:
        for topic, channel in channels.items():
            if topic not in read:
                nursery.start_soon(_drain, channel)


async def _drain(channel: trio.MemoryReceiveChannel[GossipMessage]) -> None:
    async for _ in channel:
        pass


REPUBLISH_BACKOFF_MAX = 4
"""The pause between re-publications doubles from `p2p.republish_interval` up to this many
times it: every round is a new message that each node validates (signature included), so many
open jobs re-published at a fixed pace cost every node CPU."""


async def republish(
    services: Services,
    topic: str,
    data: bytes,
    until: trio.Event,
    deadline: int,
    pace: Callable[[], float] = lambda: 1.0,
) -> None:
    """Publish `data` now and again until `until` is set or the Unix time `deadline` passes
    (gossip is lossy and a peer may have ignored it at first): after `p2p.republish_interval`,
    then at doubling pauses up to REPUBLISH_BACKOFF_MAX times that interval.

    `pace()` is asked before each round: it multiplies the pause, and 0 stops.
    """
    interval = services.config.p2p.republish_interval
    backoff = 1
    while not until.is_set() and time.time() < deadline and (factor := pace()) > 0:
        try:
            await services.p2p.gossip.publish(topic, data)
        except Exception as error:  # publishing must not end the job; the next round retries
            log.warning("publish failed", extra={"topic": topic, "error": repr(error)})
        with trio.move_on_after(interval * factor * backoff):
            await until.wait()
        backoff = min(backoff * 2, REPUBLISH_BACKOFF_MAX)
