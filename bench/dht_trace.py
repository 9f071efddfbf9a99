"""Timers for one DHT get inside a bench worker (bench/p2p_worker.py `trace` command).

`Trace.install(host, store)` wraps, in this process only, the steps a get by key goes through:
dials (TCP connect, multistream for security, Noise XX, multistream for the muxer, Yamux start
with the "connected" notifees), identify both ways, stream opens (the dial when a stream needs
one) and their multistream negotiation, py-libp2p's DHT queries (GET_VALUE,
GET_PROVIDERS) and our one-stream exchange of both (p2p.kad_request), the direct fetch with
its transfer, and the record checks (sha256 of the value); and it counts the Noise messages
and Yamux frames the process reads and writes. `report()` gives every span as (name, start
ms, duration ms) from the first one, and the counters.
"""

from __future__ import annotations

import functools
import struct
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from libp2p.identity.identify.identify import ID as IDENTIFY
from libp2p.security.noise.io import NoiseTransportReadWriter
from libp2p.stream_muxer.yamux.yamux import HEADER_SIZE, YAMUX_HEADER_FORMAT

from p2p import content, fetch, kad_request, yamux
from p2p import dht as dht_module
from p2p.host import GuardedHost

FRAME_TYPES = {0: "data", 1: "window update", 2: "ping", 3: "go away"}


class Trace:
    """Spans and counters of the steps of a get (one process)."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, float, float]] = []
        self.counts: Counter[str] = Counter()
        self._installed = False

    def reset(self) -> None:
        """Forget what was recorded so far."""
        self.spans.clear()
        self.counts.clear()

    def report(self) -> dict:
        """Spans as [name, start ms, duration ms] from the first start, and the counters."""
        origin = min((start for _, start, _ in self.spans), default=0.0)
        spans = sorted(
            (name, 1000 * (start - origin), 1000 * (end - start)) for name, start, end in self.spans
        )
        return {"spans": sorted(spans, key=lambda s: s[1]), "counts": dict(self.counts)}

    def install(self, host: GuardedHost, store: content.ContentStore) -> None:
        """Wrap the steps of a get on `host` and its content store `store` (once)."""
        if self._installed:
            return
        self._installed = True
        self._time_connection(host)
        self._timed(host, "new_stream", lambda peer, protocols: f"stream {protocols[0]}")
        self._timed(
            host.multiselect_client,
            "select_one_of",
            lambda protocols, *a: f"stream: multistream {protocols[0]}",
        )
        dht = store.dht
        self._timed(dht.value_store, "_get_from_peer", lambda *a, **k: "query GET_VALUE")
        self._timed(
            dht.provider_store,
            "_get_providers_from_peer_with_closers",
            lambda *a, **k: "query GET_PROVIDERS",
            lambda result: f": {len(result[0])} providers, {len(result[1])} closer",
        )
        self._timed(
            dht_module,
            "ask_record_and_providers",
            lambda *a, **k: "query GET_VALUE + GET_PROVIDERS",
            lambda answer: f": value {answer.value is not None}, "
            f"{len(answer.providers)} providers, {len(answer.closer)} closer",
        )
        for module in (fetch, kad_request):
            self._timed(
                module, "open_with_request", lambda host, peer, protocol, *a: f"stream {protocol}"
            )
        self._timed(fetch, "fetch", lambda *a, **k: "fetch")
        self._timed(fetch, "_read_response", lambda *a, **k: "fetch: response transfer")
        self._timed_sync(fetch, "check_record", "validate (sha256)")
        self._timed_sync(content, "check_record", "validate (sha256)")
        self._count_wire()

    def _time_connection(self, host: GuardedHost) -> None:
        """Spans for each step of a new connection and of identify, both directions."""
        swarm = host.get_network()
        upgrader = swarm.upgrader
        self._timed(swarm, "dial_peer", lambda *a: "dial")
        for transport in swarm.transport_manager.get_transports():
            self._timed(transport, "dial", lambda *a: "dial: TCP connect")
        security = upgrader.security_multistream
        self._timed(
            security, "select_transport_and_protocol", lambda *a: "dial: multistream (security)"
        )
        for noise in security.transports.values():
            self._timed(noise, "secure_outbound", lambda *a: "dial: Noise XX")
        self._timed(
            upgrader.muxer_multistream._selector, "select", lambda *a: "dial: multistream (muxer)"
        )
        self._timed(swarm, "add_conn", lambda *a, **k: "dial: Yamux start + connected notifees")
        self._timed(host, "_identify_peer", lambda *a, **k: "identify (we ask)")
        handlers = host.multiselect.handlers
        self._timed(handlers, IDENTIFY, lambda *a: "identify (peer asks us)", item=True)

    def _timed(
        self,
        owner: Any,
        attr: str,
        name: Callable[..., str],
        outcome: Callable[[Any], str] = lambda result: "",
        item: bool = False,
    ) -> None:
        """Record a span for every call of `owner.attr` (or `owner[attr]` if `item`)."""
        original = owner[attr] if item else getattr(owner, attr)

        @functools.wraps(original)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            result = None
            try:
                result = await original(*args, **kwargs)
                return result
            finally:
                label = name(*args, **kwargs) + (outcome(result) if result is not None else "")
                self.spans.append((label, start, time.perf_counter()))

        if item:
            owner[attr] = timed
        else:
            setattr(owner, attr, timed)

    def _timed_sync(self, owner: Any, attr: str, name: str) -> None:
        original = getattr(owner, attr)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.spans.append((name, start, time.perf_counter()))

        setattr(owner, attr, timed)

    def _count_wire(self) -> None:
        counts = self.counts
        read_msg, write_msg = NoiseTransportReadWriter.read_msg, NoiseTransportReadWriter.write_msg
        write_frame = yamux.SerialYamux._write_frame

        async def counted_read(rw: Any, *args: Any, **kwargs: Any) -> bytes:
            msg = await read_msg(rw, *args, **kwargs)
            counts["noise messages read"] += 1
            counts["noise bytes read"] += len(msg)
            return msg

        async def counted_write(rw: Any, msg: bytes, *args: Any, **kwargs: Any) -> None:
            counts["noise writes"] += 1
            counts["noise bytes written"] += len(msg)
            await write_msg(rw, msg, *args, **kwargs)

        async def counted_frame(conn: Any, data: bytes) -> None:
            _, typ, _, _, _ = struct.unpack(YAMUX_HEADER_FORMAT, data[:HEADER_SIZE])
            counts[f"yamux {FRAME_TYPES.get(typ, typ)} frames written"] += 1
            await write_frame(conn, data)

        NoiseTransportReadWriter.read_msg = counted_read  # type: ignore[method-assign]
        NoiseTransportReadWriter.write_msg = counted_write  # type: ignore[method-assign]
        yamux.SerialYamux._write_frame = counted_frame  # type: ignore[method-assign]
