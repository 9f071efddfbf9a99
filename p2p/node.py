"""The node's networking in one piece: host, gossip and content store, started together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from libp2p.crypto.keys import KeyPair

from p2p.content import ContentStore
from p2p.gossip import Gossip
from p2p.host import GuardedHost, HostConfig, bootstrap, listen_multiaddrs, make_host
from p2p.validation import TopicValidator

logger = logging.getLogger(__name__)


@dataclass
class P2PNode:
    """A running node: its host, gossip service and content store."""

    host: GuardedHost
    gossip: Gossip
    content: ContentStore


@asynccontextmanager
async def run_node(
    key_pair: KeyPair, config: HostConfig, validators: Mapping[str, TopicValidator]
) -> AsyncIterator[P2PNode]:
    """Start host, gossip (one validator per topic) and content store; dial bootstrap peers."""
    host = make_host(key_pair, config)
    gossip = Gossip(host, validators)
    content = ContentStore(host)
    async with host.run(listen_multiaddrs(config)), gossip.run(), content.run():
        if config.bootstrap:
            reached = await bootstrap(host, config.bootstrap)
            logger.info(
                "bootstrap done", extra={"reached": reached, "configured": len(config.bootstrap)}
            )
        yield P2PNode(host, gossip, content)
