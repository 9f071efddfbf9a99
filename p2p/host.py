"""Host factory: TCP, Noise only, Yamux only, identify and ping, the node's Ed25519 identity.

The identity is the KeyPair the caller loaded from the node's key file, so the peer id survives
restarts.

Unlike `libp2p.new_host`, which offers TLS, SECIO and *plaintext* besides Noise and keeps up to
three connections per peer, a host built here offers exactly one security protocol (Noise) and
one muxer (Yamux with whole-payload writes, see p2p.yamux), so a plaintext dialer is refused.
It proposes protocols with pipelined multistream-select (p2p.multistream), and lists Yamux in
its Noise handshakes, so that peers which do the same skip the muxer's negotiation
(p2p.inline_muxer).
Noise reads its messages through a read-ahead buffer (p2p.readahead); `host.traffic` counts the
bytes its connections send and receive; multiaddr text is parsed and formatted once per process
(p2p.addrcache), and each signed peer record verified once (p2p.peer_records).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import multiaddr
import trio
from libp2p import new_swarm
from libp2p.abc import INetworkService
from libp2p.crypto.keys import KeyPair, KeyType
from libp2p.crypto.x25519 import create_new_key_pair as new_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.host.basic_host import BasicHost
from libp2p.network.config import ConnectionConfig, RetryConfig
from libp2p.network.stream.net_stream import INetStream
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo, info_from_p2p_addr
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID

from p2p import addrcache, multistream, params, peer_records, yamux
from p2p.housekeeping import HOUSEKEEPING_PROTOCOLS, HousekeepingGate
from p2p.readahead import ReadAheadNoise
from p2p.traffic import Traffic

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HostConfig:
    """Per-node network settings (from the node's config file)."""

    listen_addrs: Sequence[str] = ("/ip4/127.0.0.1/tcp/0",)
    bootstrap: Sequence[str] = field(default_factory=tuple)
    max_connections: int = params.MAX_CONNECTIONS


class GuardedHost(BasicHost):
    """A BasicHost on which no protocol handler can take the node down, and that hangs up.

    py-libp2p runs each inbound stream's handler without catching its errors; an uncaught one
    (e.g. protobuf's DecodeError on a garbage gossipsub frame) cancels the host's nursery and
    the whole node stops. Here every handler error is logged, the stream is reset and the
    node carries on.

    `get_addrs` rebuilds and re-parses every multiaddr on each call, and py-libp2p calls it for
    every pubsub RPC it sends (to attach the signed peer record): about 0.7 ms each. It is
    cached here for params.ADDRS_CACHE_SECONDS.

    py-libp2p also closes its connections only after cancelling its tasks, so the close is
    itself cancelled and peers keep talking to a node that has stopped; when it restarts with
    the same identity, they do not re-announce their subscriptions. `run` closes the swarm
    first, shielded from cancellation.

    A new connection's identify and gossipsub streams wait while a request on it is in flight
    (`housekeeping`, p2p.housekeeping), so that they do not delay its round trips.
    """

    _addrs_cache: tuple[float, list[multiaddr.Multiaddr]] | None = None

    def __init__(
        self, network: INetworkService, traffic: Traffic | None = None, **options: Any
    ) -> None:
        super().__init__(network, **options)
        self.traffic = traffic if traffic is not None else Traffic()
        """Bytes this host's connections sent and received (as counted by its Noise sessions)."""
        self.housekeeping = HousekeepingGate()
        network.register_notifee(self.housekeeping)

    async def new_stream(self, peer_id: ID, protocol_ids: Sequence[TProtocol]) -> INetStream:
        """A stream to `peer_id` speaking one of `protocol_ids`; identify and gossipsub
        streams first wait for the housekeeping gate."""
        if HOUSEKEEPING_PROTOCOLS.issuperset(protocol_ids):
            connection = self._get_first_connection(peer_id)
            dialed_by_peer = connection is not None and not connection.muxed_conn.is_initiator
            await self.housekeeping.wait(peer_id, inbound=dialed_by_peer)
        return await super().new_stream(peer_id, protocol_ids)

    async def _identify_peer(self, peer_id: ID, *, reason: str) -> None:
        """py-libp2p's identify of `peer_id`, with a warning if it got no usable answer (a
        malformed or oversized one, or none in time: py-libp2p logs that at debug level)."""
        await super()._identify_peer(peer_id, reason=reason)
        if peer_id not in self._identified_peers and self._network.get_connections(peer_id):
            logger.warning(
                "peer gave no usable identify answer; its addresses and protocols stay "
                "unknown (is it a libp2p peer of a compatible version?)",
                extra={"peer": str(peer_id), "reason": reason},
            )

    def get_addrs(self) -> list[multiaddr.Multiaddr]:
        """The addresses we advertise, with /p2p/<our id> (recomputed at most once a second)."""
        now = time.monotonic()
        if self._addrs_cache is None or now - self._addrs_cache[0] > params.ADDRS_CACHE_SECONDS:
            addrs = super().get_addrs()
            if not addrs:  # not listening yet
                return addrs
            self._addrs_cache = (now, addrs)
        return list(self._addrs_cache[1])

    @asynccontextmanager
    async def run(  # type: ignore[override]
        self, listen_addrs: Sequence[multiaddr.Multiaddr]
    ) -> AsyncIterator[None]:
        """Listen on `listen_addrs` for the duration of the block, then hang up cleanly."""
        async with super().run(listen_addrs):
            try:
                yield
            finally:
                with trio.CancelScope(shield=True), trio.move_on_after(params.CLOSE_TIMEOUT):
                    await self.get_network().close()

    async def _swarm_stream_handler(self, net_stream: INetStream) -> None:
        try:
            await super()._swarm_stream_handler(net_stream)
        except Exception as exc:  # any bytes from any peer must not stop the node
            peer = net_stream.muxed_conn.peer_id
            logger.warning(
                "stream handler failed; stream reset",
                extra={
                    "peer": str(peer),
                    "protocol": net_stream.get_protocol(),
                    "error": repr(exc),
                },
            )
            await _reset_quietly(net_stream)


async def _reset_quietly(stream: INetStream) -> None:
    try:
        await stream.reset()
    except Exception:  # the stream may already be gone with its connection
        logger.debug("stream reset failed", extra={"peer": str(stream.muxed_conn.peer_id)})


def connection_config(max_connections: int = params.MAX_CONNECTIONS) -> ConnectionConfig:
    """Connection limits for our hosts (one connection per peer: no 250 ms dial delay)."""
    return ConnectionConfig(
        max_connections=max_connections,
        min_connections=0,
        low_watermark=0,
        high_watermark=max_connections,
        max_connections_per_peer=params.MAX_CONNECTIONS_PER_PEER,
        dial_timeout=params.DIAL_TIMEOUT,
    )


def make_host(key_pair: KeyPair, config: HostConfig = HostConfig()) -> GuardedHost:
    """Build (not start) a host with identity `key_pair`; start it with `host.run(...)`."""
    addrcache.install()
    peer_records.install()
    key_type = key_pair.private_key.get_type()
    if key_type != KeyType.Ed25519:
        raise ValueError(f"the libp2p identity must be an Ed25519 key, not {key_type.name}")
    traffic = Traffic()
    muxer_opt = {TProtocol(yamux.PROTOCOL_ID): yamux.SerialYamux}
    swarm = new_swarm(
        key_pair=key_pair,
        sec_opt={
            NOISE_PROTOCOL_ID: ReadAheadNoise(
                key_pair,
                noise_privkey=new_x25519_key_pair().private_key,
                traffic=traffic,
                muxers=tuple(muxer_opt),  # listed in its handshakes: exactly those it runs
            )
        },
        muxer_opt=muxer_opt,
        listen_addrs=listen_multiaddrs(config),
        connection_config=connection_config(config.max_connections),
        retry_config=RetryConfig(max_retries=0),
    )
    yamux.install(swarm)
    host = GuardedHost(network=swarm, traffic=traffic)
    multistream.install(host)
    return host


def listen_multiaddrs(config: HostConfig) -> list[multiaddr.Multiaddr]:
    """The configured listen addresses, parsed; a bad one raises ValueError naming it."""
    addrs = [_parse_multiaddr(addr, "listen address") for addr in config.listen_addrs]
    for text, addr in zip(config.listen_addrs, addrs, strict=True):
        names = {proto.name for proto in addr.protocols()}
        if "tcp" not in names or not names & {"ip4", "ip6", "dns", "dns4", "dns6"}:
            raise ValueError(
                f"bad listen address {text!r}: it needs an IP and a TCP port, "
                "e.g. /ip4/127.0.0.1/tcp/4001"
            )
    return addrs


def _parse_multiaddr(text: str, what: str) -> multiaddr.Multiaddr:
    try:
        return multiaddr.Multiaddr(text)
    except Exception as exc:
        raise ValueError(
            f"bad {what} {text!r}: {exc}; expected e.g. /ip4/127.0.0.1/tcp/4001"
        ) from exc


def peer_info(addr: str) -> PeerInfo:
    """Parse a bootstrap multiaddr that ends in /p2p/<peer id>."""
    parsed = _parse_multiaddr(addr, "peer address")
    try:
        return info_from_p2p_addr(parsed)
    except Exception as exc:
        raise ValueError(
            f"bad peer address {addr!r}: {exc}; it must end in /p2p/<peer id>"
        ) from exc


def p2p_addr(host: BasicHost) -> str:
    """The host's first listen address with its /p2p/<peer id> suffix."""
    return str(host.get_addrs()[0])


async def connect_with_backoff(
    host: BasicHost,
    info: PeerInfo,
    retries: int = params.CONNECT_RETRIES,
    initial_delay: float = params.CONNECT_BACKOFF_INITIAL,
) -> bool:
    """Dial `info`, retrying with exponential backoff; True once connected."""
    delay = initial_delay
    for attempt in range(1, retries + 1):
        try:
            with trio.fail_after(params.DIAL_TIMEOUT):
                await host.connect(info)
            return True
        except Exception as exc:
            logger.info(
                "dial failed",
                extra={"peer": str(info.peer_id), "attempt": attempt, "error": repr(exc)},
            )
        if attempt < retries:
            await trio.sleep(delay)
            delay = min(delay * 2, params.CONNECT_BACKOFF_MAX)
    logger.warning(
        "peer unreachable; check its address and that it is running",
        extra={"peer": str(info.peer_id), "attempts": retries},
    )
    return False


async def bootstrap(host: BasicHost, addrs: Sequence[str]) -> int:
    """Connect to every bootstrap peer concurrently; returns how many answered."""
    infos = [peer_info(addr) for addr in addrs]
    connected: list[bool] = []

    async def dial(info: PeerInfo) -> None:
        connected.append(await connect_with_backoff(host, info))

    async with trio.open_nursery() as nursery:
        for info in infos:
            nursery.start_soon(dial, info)
    return sum(connected)
