"""Where a node's CPU goes, part by part: explicit exclusive timers (bench helper).

`install()` wraps the functions a gossiped message passes through (socket, Noise, Yamux, the
pubsub read loop, the seen check, signatures, the topic validator, scores, forwarding, the
outbound queue and writes) so that each one's CPU time (`time.process_time_ns`) is summed under
its part's name, *exclusive* of the wrapped functions it calls: the parts add up to at most the
process's CPU time, and the remainder is everything not wrapped (trio's scheduler, anyio's task
bookkeeping, logging calls, the idle loop). Coroutines are timed step by step (each `send` into
them), so time spent waiting is not counted. Every timer costs ~1 µs, which the figures include.
"""

from __future__ import annotations

import functools
import time
import types
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

COPIES = "copies received"  # every copy of a message read (`_is_subscribed_to_msg` calls)
FIRSTS = "first copies"  # messages handled after the seen check (`push_msg` calls)


class Timers:
    """Exclusive CPU time per part: the part on top of the stack is charged."""

    def __init__(self) -> None:
        self.nanoseconds: Counter[str] = Counter()
        self.events: Counter[str] = Counter()
        self._stack: list[str] = []
        self._mark = time.process_time_ns()

    def enter(self, part: str) -> None:
        """Charge the running part up to now, then start charging `part`."""
        now = time.process_time_ns()
        if self._stack:
            self.nanoseconds[self._stack[-1]] += now - self._mark
        self._stack.append(part)
        self._mark = now

    def leave(self) -> None:
        """Charge the running part up to now and resume the one below it."""
        now = time.process_time_ns()
        self.nanoseconds[self._stack.pop()] += now - self._mark
        self._mark = now

    def snapshot(self) -> dict:
        """Milliseconds per part and the event counts so far."""
        return {
            "ms": {part: ns / 1e6 for part, ns in self.nanoseconds.items()},
            "events": dict(self.events),
        }


TIMERS = Timers()


@types.coroutine
def _stepwise(coro: Coroutine, part: str):  # type: ignore[no-untyped-def]
    """Run `coro`, charging each of its steps to `part`."""
    value: Any = None
    error: BaseException | None = None
    while True:
        TIMERS.enter(part)
        try:
            yielded = coro.send(value) if error is None else coro.throw(error)
        except StopIteration as stop:
            return stop.value
        finally:
            TIMERS.leave()
        try:
            value, error = (yield yielded), None
        except BaseException as exc:  # cancellation and errors go into the coroutine
            value, error = None, exc


def _timed_async(fn: Callable, part: str) -> Callable:
    @functools.wraps(fn)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        return await _stepwise(fn(*args, **kwargs), part)

    return timed


def _timed_sync(fn: Callable, part: str, event: str | None) -> Callable:
    @functools.wraps(fn)
    def timed(*args: Any, **kwargs: Any) -> Any:
        if event:
            TIMERS.events[event] += 1
        TIMERS.enter(part)
        try:
            return fn(*args, **kwargs)
        finally:
            TIMERS.leave()

    return timed


def _wrap(owner: object | None, name: str, part: str, event: str | None = None) -> None:
    """Time `owner.name` as `part`; a class that does not define `name` itself is skipped,
    so that one list times the code before and after a method moved to a subclass."""
    if owner is None:  # a class the code being timed does not have
        return
    # For a class, the function itself, not a bound classmethod.
    fn = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
    if fn is None:
        return
    if isinstance(fn, (classmethod, staticmethod)):
        raise TypeError(f"{name}: wrap plain functions only")
    is_async = isinstance(fn, types.FunctionType) and fn.__code__.co_flags & 0x80
    timed = _timed_async(fn, part) if is_async else _timed_sync(fn, part, event)
    setattr(owner, name, timed)


def install() -> None:
    """Wrap this process's transport, pubsub, validator and forwarding functions."""
    from libp2p.io.trio import TrioTCPStream
    from libp2p.pubsub.gossipsub import GossipSub
    from libp2p.pubsub.mcache import MessageCache
    from libp2p.pubsub.pubsub import Pubsub
    from libp2p.pubsub.score import PeerScorer
    from libp2p.security.noise.io import BaseNoiseMsgReadWriter, NoiseTransportReadWriter
    from libp2p.security.secure_session import SecureSession
    from libp2p.stream_muxer.yamux.yamux import Yamux, YamuxStream
    from libp2p.tools.anyio_service.trio_manager import TrioManager

    import p2p.gossip
    import p2p.stark
    import p2p.topic_checks
    from p2p import outbound, scoring, yamux

    frame_reader = getattr(yamux, "FrameReader", None)  # not in the code before it
    try:
        from p2p.noise_session import NoiseSession
    except ImportError:  # not in the code before it
        NoiseSession = None

    for owner, name, part in (
        (TrioTCPStream, "read", "socket read"),
        (TrioTCPStream, "write", "socket write"),
        (NoiseTransportReadWriter, "decrypt", "Noise decrypt"),
        (NoiseTransportReadWriter, "encrypt", "Noise encrypt"),
        (BaseNoiseMsgReadWriter, "read_msg", "Noise framing"),
        (BaseNoiseMsgReadWriter, "write_msg", "Noise framing"),
        (SecureSession, "read", "Noise framing"),
        (SecureSession, "write", "Noise framing"),
        (NoiseSession, "_receive", "socket read"),
        (NoiseSession, "_send", "socket write"),
        (NoiseSession, "_open_whole_messages", "Noise decrypt"),
        (NoiseSession, "_seal_all", "Noise encrypt"),
        (NoiseSession, "read", "Noise framing"),
        (NoiseSession, "write", "Noise framing"),
        (Yamux, "handle_incoming", "Yamux read loop (frame parse, buffers)"),
        (Yamux, "read_stream", "Yamux stream read"),
        (YamuxStream, "read", "Yamux stream read"),
        (YamuxStream, "write", "Yamux write (frames, locks, window)"),
        (Yamux, "_write_frame", "Yamux write (frames, locks, window)"),
        (frame_reader, "run", "Yamux read loop (frame parse, buffers)"),
        (yamux.SerialYamuxStream, "read", "Yamux stream read"),
        (yamux.SerialYamuxStream, "write", "Yamux write (frames, locks, window)"),
        (yamux.SerialYamux, "_write_frame", "Yamux write (frames, locks, window)"),
        (yamux.SerialYamux, "_send_frame", "Yamux write (frames, locks, window)"),
        (Pubsub, "continuously_read_stream", "RPC read loop (varint, protobuf, dispatch)"),
        (
            p2p.gossip.GuardedPubsub,
            "continuously_read_stream",
            "RPC read loop (varint, protobuf, dispatch)",
        ),
        (p2p.gossip.GuardedPubsub, "_is_subscribed_to_msg", "seen check"),
        (TrioManager, "run_task", "task spawn per first copy"),
        (p2p.gossip.GuardedPubsub, "push_msg", "push_msg (rest)"),
        (p2p.gossip.GuardedPubsub, "notify_subscriptions", "delivery to subscribers"),
        (GossipSub, "publish", "router forward (rest)"),
        (p2p.gossip.HardenedGossipSub, "publish", "router forward (rest)"),
        (GossipSub, "_get_peers_to_send", "router forward (rest)"),
        (MessageCache, "put", "mcache put"),
        (GossipSub, "send_rpc", "send_rpc (copy, queue)"),
        (outbound.FreshQueue, "push", "send_rpc (copy, queue)"),
        (outbound.FreshQueue, "pop", "outbound queue pop, expiry check"),
        (Pubsub, "handle_sending_messages", "outbound writer loop"),
        (Pubsub, "write_msg", "RPC write (serialize)"),
        (p2p.gossip.GuardedPubsub, "handle_sending_messages", "outbound writer loop"),
        (p2p.gossip.GuardedPubsub, "write_now", "forward written at once (checks)"),
        (p2p.gossip.GuardedPubsub, "write_msg", "RPC write (serialize)"),
        (GossipSub, "handle_rpc", "control RPCs (IHAVE/IWANT/GRAFT/...)"),
        (GossipSub, "heartbeat", "heartbeat (mesh, IHAVE gossip)"),
        (PeerScorer, "score", "peer scores"),
        (scoring.SpecScorer, "allow_publish", "peer scores"),
        (scoring.SpecScorer, "allow_gossip", "peer scores"),
        (PeerScorer, "on_first_delivery", "peer scores"),
        (p2p.gossip, "run_validator", "validator: decode and checks"),
        (p2p.gossip, "signature_validator", "pubsub Ed25519 signature"),
        (p2p.topic_checks, "job_hash", "validator: SNIP-12 job hash"),
        (p2p.stark, "verify", "validator: ECDSA verify"),
    ):
        _wrap(owner, name, part)
    _wrap(Pubsub, "_is_subscribed_to_msg", "seen check", COPIES)
    _wrap(Pubsub, "_is_msg_seen", "seen check")
    TIMERS.events[FIRSTS] = 0
    push = p2p.gossip.GuardedPubsub.push_msg

    @functools.wraps(push)
    async def counted_push(self: Any, *args: Any) -> Any:
        TIMERS.events[FIRSTS] += 1
        return await push(self, *args)

    p2p.gossip.GuardedPubsub.push_msg = counted_push  # type: ignore[method-assign]
