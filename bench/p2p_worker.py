"""One p2p node in its own process, driven by JSON-line commands on stdin (bench helper).

--variant ours : p2p.host / p2p.gossip / p2p.content as the node runs them.
--variant prev : ours, but a get runs py-libp2p's own lookups (`KadDHT.get_value`,
                 `find_providers`) and starts them after the publisher's head start even while
                 it is sending, as p2p.content did before (the baseline of bench/p2p_dht.py).
--variant stock: py-libp2p 0.8.1 defaults: libp2p.new_host(), Pubsub + GossipSub(6, 4, 12) with
                 default parameters, KadDHT(SERVER) with its default validator. Connected peers
                 are added to the stock DHT's routing table (it does not do so itself).
Both variants gossip real signed job headers and check each one with the job topic's header
validator (p2p.topic_checks) before forwarding it, as a node does.
Replies are JSON lines on stdout; the first is {"addr": <multiaddr with /p2p/>}.
`counters` reports the process CPU time, the pubsub RPCs and bytes written and the streams
opened per protocol, so the bench can compute load-independent costs per message.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import logging
import os
import resource
import sys
import time
from collections import Counter
from functools import partial

import hop_timers
import multiaddr
import trio
from dht_trace import Trace
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.custom_types import TProtocol
from libp2p.kad_dht.kad_dht import DHTMode, KadDHT
from libp2p.network.stream.net_stream import INetStream
from libp2p.peer.id import ID
from libp2p.pubsub.gossipsub import GossipSub
from libp2p.pubsub.pubsub import Pubsub
from libp2p.tools.anyio_service import background_trio_service
from p2p_cluster import add_tuning_arguments

from p2p import params
from p2p.content import ContentStore, _first_value, provider_key
from p2p.gossip import Gossip
from p2p.host import (
    HostConfig,
    connect_with_backoff,
    listen_multiaddrs,
    make_host,
    p2p_addr,
    peer_info,
)
from p2p.messages import JobHeader, SignedJobHeader
from p2p.records import check_record, record_key
from p2p.signing import sign_header
from p2p.stark import StarkKeyPair
from p2p.topic_checks import NetworkContext, header_validator
from p2p.validation import Outcome, TopicValidator, run_validator

TOPIC = params.TOPIC_JOBS
CHAIN_ID = 0x534E5F4245_4E4348  # "SN_BENCH"
REGISTRY = 0x4E6
DELEGATOR = 0xDE1E6
DELEGATOR_KEY = StarkKeyPair.from_private_key(0xBE7C4)


def make_validator() -> TopicValidator:
    """The job topic's real header validator, knowing the bench delegator's key."""
    keys = {DELEGATOR: DELEGATOR_KEY.public_key}
    return header_validator(NetworkContext(CHAIN_ID, REGISTRY), keys.get)


def signed_header(seq: int) -> bytes:
    """Job header number `seq` (its nonce), signed by the bench delegator."""
    header = JobHeader(
        chain_id=CHAIN_ID,
        registry=REGISTRY,
        delegator=DELEGATOR,
        body_id=seq.to_bytes(32, "big"),
        program_hash=0x55,
        max_steps=10**6,
        reward=10**15,
        deadline=int(time.time() + 600),
        nonce=seq,
    )
    return sign_header(header, DELEGATOR_KEY).encode()


class Node:
    """The node under test, in either variant, with a uniform interface."""

    def __init__(
        self, variant: str, mesh: list[int] | None = None, idontwant: int | None = None
    ) -> None:
        self.variant = variant
        self.mesh = mesh
        self.idontwant = idontwant
        self.received: dict[int, float] = {}  # seq -> receive time (epoch seconds)
        self.got_all = trio.Event()
        self.expected = 0
        self.rpcs = 0
        self.rpc_bytes = 0
        self.opened: list[INetStream] = []
        self.profiler: cProfile.Profile | None = None
        self.trace: Trace | None = None

    async def run(self, commands: trio.abc.ReceiveStream) -> None:
        if self.variant != "stock":
            self.host = make_host(create_new_key_pair())
            listen = listen_multiaddrs(HostConfig())
        else:
            self.host = new_host(key_pair=create_new_key_pair())
            listen = [multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]
        self._count_streams()
        async with self.host.run(listen), trio.open_nursery() as nursery:
            await self._start_services(nursery)
            self._count_rpcs()
            reply({"addr": p2p_addr(self.host)})
            await self._serve(commands)
            nursery.cancel_scope.cancel()

    async def _start_services(self, nursery: trio.Nursery) -> None:
        validator = make_validator()
        if self.variant != "stock":
            self.gossip = Gossip(self.host, {TOPIC: validator})
            self._tune(self.gossip.router)
            store = PyLibp2pLookups if self.variant == "prev" else ContentStore
            self.content = store(self.host)
            await nursery.start(_hold, self.gossip.run())
            await nursery.start(_hold, self.content.run())
            channel = await self.gossip.subscribe(TOPIC)
            nursery.start_soon(self._consume, (m.data async for m in channel))
        else:
            self.router = GossipSub([TProtocol(p) for p in params.GOSSIPSUB_PROTOCOLS], 6, 4, 12)
            self.pubsub = Pubsub(self.host, self.router)
            self.dht = KadDHT(self.host, DHTMode.SERVER)
            for service in (self.pubsub, self.router, self.dht):
                await nursery.start(_hold, background_trio_service(service))
            await self.pubsub.wait_until_ready()

            def stock_validator(forwarder: object, msg) -> bool:
                verdict = run_validator(validator, msg.data, forwarder)
                return verdict.outcome is Outcome.ACCEPT

            self.pubsub.set_topic_validator(TOPIC, stock_validator, False)
            subscription = await self.pubsub.subscribe(TOPIC)
            nursery.start_soon(self._consume, (m.data async for m in subscription))

    def _tune(self, router) -> None:
        """The mesh degrees and IDONTWANT threshold asked for on the command line."""
        if self.mesh:
            router.degree, router.degree_low, router.degree_high = self.mesh
        if self.idontwant is not None:
            router.idontwant_threshold = self.idontwant

    def _count_streams(self) -> None:
        """Keep the streams this node opens (host streams and requests sent with their
        protocol proposal, p2p.multistream), to count them per protocol."""
        network = self.host.get_network()
        new_stream = network.new_stream

        async def kept(peer_id):
            stream = await new_stream(peer_id)
            self.opened.append(stream)
            return stream

        network.new_stream = kept  # type: ignore[method-assign]

    def _count_rpcs(self) -> None:
        """Count the pubsub RPCs (and their bytes) this node writes."""
        pubsub = self.gossip.pubsub if self.variant != "stock" else self.pubsub
        write_msg = pubsub.write_msg

        async def counted(stream, rpc) -> bool:
            written = await write_msg(stream, rpc)
            self.rpcs += 1
            self.rpc_bytes += rpc.ByteSize()
            return written

        pubsub.write_msg = counted  # type: ignore[method-assign]

    async def _consume(self, messages) -> None:
        async for data in messages:
            seq = SignedJobHeader.decode(data).header.nonce
            self.received.setdefault(seq, time.time())
            if self.expected and len(self.received) >= self.expected:
                self.got_all.set()

    async def _serve(self, commands: trio.abc.ReceiveStream) -> None:
        buffer = b""
        while True:
            chunk = await commands.receive_some(65536)
            if not chunk:
                return
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                command = json.loads(line)
                if command["cmd"] == "quit":
                    return
                reply(await getattr(self, "cmd_" + command["cmd"])(**command.get("args", {})))

    async def cmd_connect(self, addr: str) -> dict:
        info = peer_info(addr)
        ok = await connect_with_backoff(self.host, info, retries=3)
        if self.variant == "stock":
            await self.dht.add_peer(info.peer_id, skip_server_mode_check=True)
        return {"ok": ok}

    async def cmd_mesh(self) -> dict:
        router = self.gossip.router if self.variant != "stock" else self.router
        return {"mesh": len(router.mesh.get(TOPIC, ()))}

    async def cmd_publish(self, count: int, rate: float) -> dict:
        publish = self.gossip.publish if self.variant != "stock" else self.pubsub.publish
        headers = [signed_header(seq) for seq in range(count)]  # signed before the clock runs
        sent: list[float] = []
        started = time.perf_counter()
        for seq, header in enumerate(headers):
            await trio.sleep_until(_deadline(started, seq / rate))
            sent.append(time.time())
            await publish(TOPIC, header)
        return {"sent": sent, "bytes": len(headers[0]) if headers else 0}

    async def cmd_collect(self, count: int, timeout: float) -> dict:
        self.expected = count
        if len(self.received) >= count:
            self.got_all.set()
        with trio.move_on_after(timeout):
            await self.got_all.wait()
        return {"received": self.received}

    async def cmd_counters(self) -> dict:
        usage = resource.getrusage(resource.RUSAGE_SELF)  # microseconds; os.times() ticks 10 ms
        return {
            "cpu": usage.ru_utime + usage.ru_stime,
            "sys": usage.ru_stime,
            "rpcs": self.rpcs,
            "rpc_bytes": self.rpc_bytes,
            "streams": Counter(str(stream.get_protocol()) for stream in self.opened),
        }

    async def cmd_trace(self, start: bool) -> dict:
        """Start timing the steps of gets (bench/dht_trace.py), or stop and report them."""
        if self.trace is None:
            self.trace = Trace()
            self.trace.install(self.host, self.content)
        report = {} if start else self.trace.report()
        self.trace.reset()
        return report

    async def cmd_timers(self) -> dict:
        """CPU ms per part and event counts so far (with --timers; see bench/hop_timers.py)."""
        return hop_timers.TIMERS.snapshot()

    async def cmd_profile(self, path: str | None = None) -> dict:
        """Start profiling, or stop and write the stats to `path`."""
        if path is None:
            self.profiler = cProfile.Profile(time.process_time)
            self.profiler.enable()
        elif self.profiler is not None:
            self.profiler.disable()
            self.profiler.dump_stats(path)
            self.profiler = None
        return {}

    async def cmd_put(self, size: int) -> dict:
        value = os.urandom(size)
        key = record_key(params.NS_BODY, value)
        started = time.perf_counter()
        try:
            with trio.fail_after(60):
                if self.variant != "stock":
                    key = await self.content.put(params.NS_BODY, value)
                else:
                    await self.dht.put_value(key, value)
        except Exception as exc:
            return {"key": key, "error": repr(exc)[:200]}
        return {"key": key, "seconds": time.perf_counter() - started}

    async def cmd_get(self, key: str, publisher: str | None = None) -> dict:
        started = time.perf_counter()
        try:
            with trio.fail_after(60):
                if self.variant != "stock":
                    hint = None
                    if publisher is not None:
                        info = peer_info(publisher)
                        self.host.get_peerstore().add_addrs(info.peer_id, info.addrs, 600)
                        hint = info.peer_id
                    value = await self.content.get(key, publisher=hint)
                else:
                    value = await self.dht.get_value(key)
        except Exception as exc:
            return {"error": repr(exc)[:200]}
        seconds = time.perf_counter() - started
        if value is None:
            return {"error": f"not found after {seconds:.3f} s", "seconds": seconds}
        return {"ok": record_key(params.NS_BODY, value) == key, "seconds": seconds}


class PyLibp2pLookups(ContentStore):
    """Our content store as it was before p2p.lookup (the bench baseline): py-libp2p's lookups
    (a full FIND_NODE walk, then GET_VALUE or GET_PROVIDERS peer by peer, then the value's
    write-back), started after the publisher's head start even while it is sending."""

    async def _get_round(
        self, key: str, namespace: str, publisher: ID | None, stalled: list[str]
    ) -> bytes | None:
        lookups = self._lookups(key, namespace, stalled)
        direct = [partial(self._from_peer, publisher, key, stalled)] if publisher else []
        head_start = params.PUBLISHER_HEAD_START
        return await _first_value(direct or lookups, lookups if direct else (), head_start)

    def _lookups(self, key: str, namespace: str, stalled: list[str]) -> list:
        return [
            partial(self._from_dht, key, namespace, stalled),
            partial(self._from_providers, key, stalled),
        ]

    async def _from_dht(self, key: str, namespace: str, stalled: list[str]) -> bytes | None:
        with trio.move_on_after(params.DHT_GET_TIMEOUT):
            try:
                value = await self.dht.get_value(key, quorum=1)
                check_record(key, value or b"", namespace, params.MAX_DHT_RECORD)
                return value
            except Exception:
                return None
        return None

    async def _from_providers(self, key: str, stalled: list[str]) -> bytes | None:
        providers = []
        with trio.move_on_after(params.DHT_GET_TIMEOUT):
            try:
                providers = await self.dht.find_providers(provider_key(key))
            except Exception:
                return None
        for provider in providers:
            if provider.peer_id != self.host.get_id():
                self.host.get_peerstore().add_addrs(provider.peer_id, provider.addrs, 600)
                if (value := await self._from_peer(provider.peer_id, key, stalled)) is not None:
                    return value
        return None


def _deadline(started: float, offset: float) -> float:
    return trio.current_time() + max(0.0, started + offset - time.perf_counter())


async def _hold(context, task_status=trio.TASK_STATUS_IGNORED) -> None:
    async with context:
        task_status.started()
        await trio.sleep_forever()


def reply(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main() -> None:
    logging.getLogger().setLevel(logging.ERROR)  # keep the bench output readable
    logging.getLogger("libp2p").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variant", choices=("ours", "prev", "stock"), required=True)
    parser.add_argument("--timers", action="store_true", help="time each part (hop_timers)")
    add_tuning_arguments(parser)
    args = parser.parse_args()
    if args.timers:
        hop_timers.install()
    node = Node(args.variant, args.mesh, args.idontwant)
    trio.run(node.run, trio.lowlevel.FdStream(os.dup(0)))


if __name__ == "__main__":
    main()
