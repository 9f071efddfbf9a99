"""The shared parts every role runs on, started together and stopped together.

`open_services(config, role)` loads the account and identity, checks that the RPC node serves the
configured chain, connects the Registry and FactRegistry clients through the chain bridge, starts
the block watch (`chain.poll_interval`), opens the job store, starts the p2p node with the job
topics' validators and, when `node.status_port` is set, the /metrics and /health endpoint.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import trio
from starknet_py.net.client_errors import ClientError

from node.chain import AccountKeys, BlockWatch, ChainBridge, ChainError, FactWatch, RegistryView
from node.config import Config
from node.health import StatusService, serve
from node.keys import read_identity
from node.metrics import NodeMetrics
from node.roles.directory import KeyDirectory
from node.store import STATES, JobStore, Role, StoredJob, store_path
from node.wallet import Wallet, check_chain, contract_address, load_wallet
from p2p import params
from p2p.host import HostConfig
from p2p.messages import JobHeader, SignedJobHeader
from p2p.node import P2PNode, run_node
from p2p.topic_checks import (
    NetworkContext,
    assignment_validator,
    bid_validator,
    header_validator,
    notice_validator,
    score_validator,
)
from p2p.validation import TopicValidator
from registry_contract.client import FactRegistryClient, Refused, RegistryClient

log = logging.getLogger(__name__)

T = TypeVar("T")

TRANSACTION_TIMEOUT_S = 300.0
"""Bound on one transaction: fee estimation, sending and waiting for its receipt."""


@dataclass
class Services:
    """A running node's parts. Chain clients live on the bridge's asyncio side: use `chain`."""

    config: Config
    role: Role
    wallet: Wallet
    network: NetworkContext
    bridge: ChainBridge
    registry: RegistryClient
    facts: FactRegistryClient
    view: RegistryView
    keys: KeyDirectory
    store: JobStore
    p2p: P2PNode
    metrics: NodeMetrics
    status_port: int | None
    blocks: BlockWatch
    """Wakes whoever waits for the chain to change (facts, payments)."""
    facts_seen: FactWatch
    """Waits for facts to be registered (one events read a block for all waiting facts)."""
    headers: dict[int, SignedJobHeader] = field(default_factory=dict)
    """Jobs this node knows, by job hash: what assignments and notices are checked against."""

    async def chain(self, coro_fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run a starknet-py coroutine function on the bridge (a view: runs concurrently)."""
        return await self.bridge.call(coro_fn, *args)

    async def transact(self, coro_fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Send this account's transaction through the bridge and wait for its receipt.

        Several may be in flight: the account numbers them and reuses fee estimates
        (`node.wallet.NumberingAccount`). After any failure the account reads its nonce and
        estimates afresh; a failure that is neither the contract's refusal nor the node's answer
        (lost, timed out, reverted for lack of gas) is a `ChainError`: retry it.
        """
        try:
            return await self.bridge.call(coro_fn, *args, timeout_s=TRANSACTION_TIMEOUT_S)
        except Exception as error:
            await self.bridge.call(self.registry.account.resync)
            if isinstance(error, (Refused, ClientError, ChainError)):
                raise
            raise ChainError(f"the transaction failed ({error!r}); it can be sent again") from error

    def forget_jobs_before(self, unix_time: float) -> list[int]:
        """Drop the known headers whose deadline is before `unix_time`; return their hashes."""
        old = [key for key, signed in self.headers.items() if signed.header.deadline < unix_time]
        for key in old:
            del self.headers[key]
        return old

    def transition(self, job_hash: int, state: str, reason: str, **fields: Any) -> StoredJob:
        """Move a job on in the store and in the metrics."""
        job = self.store.transition(job_hash, state, reason, **fields)
        self.count_jobs()
        return job

    def mark_paid(self, job_hash: int, tx_hash: int) -> StoredJob:
        job = self.store.mark_paid(job_hash, tx_hash)
        self.count_jobs()
        return job

    def count_jobs(self) -> None:
        """Set the jobs-by-state gauge from the store."""
        counts = dict.fromkeys(STATES, 0)
        for job in self.store.jobs(role=self.role):
            counts[job.state] += 1
        for state, count in counts.items():
            self.metrics.jobs.labels(state=state).set(count)

    def ready_info(self) -> dict[str, Any]:
        """What other nodes and scripts need to reach this one."""
        host = self.p2p.host
        return {
            "event": "ready",
            "role": self.role,
            "account": hex(self.wallet.address),
            "peer_id": host.get_id().to_base58(),
            "addrs": [str(addr) for addr in host.get_addrs()],
            "status_port": self.status_port,
        }


@asynccontextmanager
async def open_services(
    config: Config, role: Role, environ: Mapping[str, str] | None = None
) -> AsyncIterator[Services]:
    """Start everything a role needs; stop it all when the block ends."""
    wallet = load_wallet(config, environ)
    network = NetworkContext(wallet.chain_id, contract_address(config, "registry"))
    fact_registry = contract_address(config, "fact_registry")
    identity = read_identity(config.identity_path)
    async with ChainBridge() as bridge, trio.open_nursery() as nursery:
        account = wallet.account(config.chain.rpc_url, config.chain.fee_estimate_ttl)
        await bridge.call(check_chain, account.client, wallet.chain_id)
        registry = await bridge.call(RegistryClient.connect, account, network.registry)
        keys = KeyDirectory(AccountKeys(bridge, account.client), nursery)
        headers: dict[int, SignedJobHeader] = {}
        host_config = HostConfig(tuple(config.p2p.listen), tuple(config.p2p.bootstrap))
        with JobStore.open(store_path(config.data_dir)) as store:
            async with run_node(identity, host_config, _validators(network, keys, headers)) as p2p:
                metrics = NodeMetrics.create()
                metrics.count_gossip_drops(lambda: p2p.gossip.drops.counts)
                metrics.count_outbound_drops(lambda: p2p.gossip.outbound_drops.counts)
                metrics.peers.set_function(lambda: len(p2p.host.get_network().connections))
                metrics.count_traffic(lambda: p2p.host.traffic.sent,
                                      lambda: p2p.host.traffic.received)
                status_port = await _start_status(nursery, config, metrics, p2p)
                blocks = BlockWatch(bridge, account.client, config.chain.poll_interval)
                nursery.start_soon(blocks.run)
                facts = FactRegistryClient(account, fact_registry)
                services = Services(
                    config, role, wallet, network, bridge, registry, facts,
                    RegistryView(bridge, registry), keys, store, p2p, metrics, status_port,
                    blocks, FactWatch(bridge, facts, blocks), headers,
                )
                services.count_jobs()
                log.info("node ready", extra=services.ready_info())
                yield services
        nursery.cancel_scope.cancel()


def _validators(
    network: NetworkContext, keys: KeyDirectory, headers: dict[int, SignedJobHeader]
) -> dict[str, TopicValidator]:
    def known_header(job_hash: int) -> JobHeader | None:
        signed = headers.get(job_hash)
        return None if signed is None else signed.header

    return {
        params.TOPIC_JOBS: header_validator(network, keys.lookup),
        params.TOPIC_BIDS: bid_validator(network, keys.lookup),
        params.TOPIC_ASSIGNMENTS: assignment_validator(network, keys.lookup, known_header),
        params.TOPIC_DONE: notice_validator(network, keys.lookup),
        params.TOPIC_SCORES: score_validator(network, keys.lookup),
    }


async def _start_status(
    nursery: trio.Nursery, config: Config, metrics: NodeMetrics, p2p: P2PNode
) -> int | None:
    if not config.node.status_port:
        return None

    def peers() -> tuple[bool, str]:
        count = len(p2p.host.get_network().connections)
        return count > 0, f"{count} peers connected"

    service = StatusService(metrics, {"peers": peers})
    return await nursery.start(serve, service, config.node.status_port)
