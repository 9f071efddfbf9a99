"""Passes through trio's scheduler per gossiped header per receiving node, and what asks for them.

`--hosts` nodes in one process (on 127.0.0.1, each connected to every other, running p2p.gossip
with the job topic's real header validator) gossip real signed job headers. While they are
published, a trio Instrument counts the task steps (each one pass through the scheduler) by
task, and counting wrappers count the checkpoints, cancel scopes and Event waits by the
function that asked for them. Printed per header per receiver. Counts, not CPU: every node
shares the process, so this shows which scheduler passes a copy received or forwarded costs.

    PYTHONPATH=. .venv/bin/python bench/gossip_switches.py --hosts 5 --count 60
(PYTHONPATH: this checkout's packages, not those the editable install points at.)
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections import Counter
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

import trio
from libp2p.crypto.ed25519 import create_new_key_pair
from p2p_worker import TOPIC, make_validator, signed_header

import p2p
from p2p import host as p2p_host
from p2p.gossip import Gossip

# Frames skipped to name the caller that asked for a checkpoint, cancel scope or wait.
PLUMBING = (
    "contextlib",
    "trio/_timeouts",
    "trio/_socket",
    "trio/_highlevel_socket",
    "bench/gossip_sw",
)


class Counts(trio.abc.Instrument):
    """Task steps by task and scheduler requests by caller, while `on`."""

    def __init__(self) -> None:
        self.on = False
        self.steps: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        if self.on:
            self.steps[task.name.rsplit(".", 1)[-1]] += 1

    def note(self, what: str) -> None:
        """Count `what`, asked for by the first caller outside the plumbing."""
        if not self.on:
            return
        frame = sys._getframe(2)
        while frame.f_back and any(part in frame.f_code.co_filename for part in PLUMBING):
            frame = frame.f_back
        where = "/".join(frame.f_code.co_filename.rsplit("/", 2)[-2:])
        self.requests[f"{what} <- {where}:{frame.f_code.co_name}"] += 1


def count_calls(counts: Counts) -> None:
    """Wrap trio's checkpoints, Event.wait and CancelScope entry so that `counts` sees them."""

    def counted_async(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        async def counted(*args: Any, **kwargs: Any) -> Any:
            counts.note(name)
            return await fn(*args, **kwargs)

        return counted

    lowlevel = trio.lowlevel
    lowlevel.checkpoint = counted_async("checkpoint", lowlevel.checkpoint)
    lowlevel.cancel_shielded_checkpoint = counted_async(
        "checkpoint after a socket call", lowlevel.cancel_shielded_checkpoint
    )
    trio.Event.wait = counted_async("Event.wait", trio.Event.wait)
    enter = trio.CancelScope.__enter__

    def counted_enter(scope: trio.CancelScope) -> trio.CancelScope:
        counts.note("CancelScope")
        return enter(scope)

    trio.CancelScope.__enter__ = counted_enter  # type: ignore[method-assign]


async def run(hosts: int, count: int, rate: float) -> tuple[Counts, int]:
    """Counts while `count` headers are published at `rate`; and the copies expected."""
    counts = Counts()
    count_calls(counts)
    async with AsyncExitStack() as stack:
        nodes = []
        for _ in range(hosts):
            host = p2p_host.make_host(create_new_key_pair())
            listen = p2p_host.listen_multiaddrs(p2p_host.HostConfig())
            await stack.enter_async_context(host.run(listen))
            gossip = await stack.enter_async_context(Gossip(host, {TOPIC: make_validator()}).run())
            nodes.append((host, gossip, await gossip.subscribe(TOPIC)))
        for (dialer, _, _), (target, _, _) in itertools.combinations(nodes, 2):
            target_info = p2p_host.peer_info(p2p_host.p2p_addr(target))
            assert await p2p_host.connect_with_backoff(dialer, target_info, retries=3)
        with trio.fail_after(30):
            while not all(gossip.router.mesh.get(TOPIC) for _, gossip, _ in nodes):
                await trio.sleep(0.05)
        await trio.sleep(1.5)  # a heartbeat, so that the meshes settle
        headers = [signed_header(n) for n in range(count)]
        trio.lowlevel.add_instrument(counts)
        counts.on = True
        async with trio.open_nursery() as nursery:
            for _, _, channel in nodes[1:]:
                nursery.start_soon(receive, channel, count)
            for header in headers:
                await nodes[0][1].publish(TOPIC, header)
                await trio.sleep(1 / rate)
        counts.on = False
    return counts, count * (hosts - 1)


async def receive(channel: trio.MemoryReceiveChannel, count: int) -> None:
    """Take `count` messages (at most 30 s)."""
    with trio.fail_after(30):
        for _ in range(count):
            await channel.receive()


def report(counts: Counts, received: int) -> None:
    """Per header per receiver: task steps by task, requests by caller."""
    print(f"p2p package measured: {p2p.__path__[0]}")
    steps = sum(counts.steps.values())
    print(f"task steps per header per receiver: {steps / received:.2f}")
    for name, n in counts.steps.most_common(8):
        print(f"{n / received:8.2f}  {name}")
    print("checkpoints, cancel scopes and Event waits per header per receiver, by caller")
    for name, n in counts.requests.most_common(12):
        print(f"{n / received:8.2f}  {name}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=5)
    parser.add_argument("--count", type=int, default=60, help="headers published")
    parser.add_argument("--rate", type=float, default=20.0, help="headers per second")
    arguments = parser.parse_args()
    report(*trio.run(run, arguments.hosts, arguments.count, arguments.rate))
