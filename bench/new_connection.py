"""The CPU cost of a new connection, and where it goes, in one process (issue #4).

`--hosts N` nodes run in this process (host, gossip subscribed to the job topic, content store
with its DHT, as p2p.node runs them; `--bare`: hosts only). Node 0 dials each other node in
turn; a connection counts as done once both ends have identified each other and (not with
`--bare`) opened their gossipsub streams both ways. Prints the CPU per new connection (both
ends; the process's idle CPU rate, taken over a quiet second before, is subtracted), and with
`--parts` the CPU per part (bench/connection_timers.py: Noise, Ed25519, identify, signed peer
records, multiaddr, peerstore, multistream, Yamux, gossip, DHT, logging calls, the rest).
--baseline-ref REV runs the same measure on commit REV's p2p package (bench/baseline.py),
alternating `--runs` times, and prints the medians and the ratio base / now.

    .venv/bin/python bench/new_connection.py --hosts 9 --parts
    .venv/bin/python bench/new_connection.py --baseline-ref main --runs 3
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import connection_timers
import trio
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.id import ID

from p2p import params
from p2p.content import ContentStore
from p2p.gossip import Gossip
from p2p.host import (
    GuardedHost,
    HostConfig,
    connect_with_backoff,
    listen_multiaddrs,
    make_host,
    p2p_addr,
    peer_info,
)
from p2p.validation import Verdict

REMAINDER = "remainder: trio scheduler, code between the parts"


def accept(data: bytes, origin: ID) -> Verdict:
    """Every gossip message is fine here: only connections are measured."""
    return Verdict.accept()


@asynccontextmanager
async def node(bare: bool) -> AsyncIterator[tuple[GuardedHost, Gossip | None]]:
    """A running host (with gossip and a content store unless `bare`)."""
    host = make_host(create_new_key_pair())
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(host.run(listen_multiaddrs(HostConfig())))
        if bare:
            yield host, None
            return
        gossip = Gossip(host, {params.TOPIC_JOBS: accept})
        await stack.enter_async_context(gossip.run())
        await stack.enter_async_context(ContentStore(host).run())
        await gossip.subscribe(params.TOPIC_JOBS)
        yield host, gossip


def settled(a: tuple[GuardedHost, Gossip | None], b: tuple[GuardedHost, Gossip | None]) -> bool:
    """Both ends identified each other (and, for nodes, opened gossip both ways)."""
    for (host, gossip), (other, _) in ((a, b), (b, a)):
        if other.get_id() not in host._identified_peers:
            return False
        if gossip is not None and other.get_id() not in gossip.pubsub.peers:
            return False
    return True


async def measure(hosts: int, bare: bool, parts: bool) -> dict:
    """CPU ms per new connection (the idle rate subtracted), and per part if `parts`."""
    if parts:
        connection_timers.install()
    async with AsyncExitStack() as stack:
        nodes = [await stack.enter_async_context(node(bare)) for _ in range(hosts)]
        await trio.sleep(1.5)  # the first heartbeats and DHT start-up
        idle = Stretch()
        await trio.sleep(1.0)
        idle_rate = idle.end()
        per_connection: list[float] = []
        per_part: Counter[str] = Counter()
        for other in nodes[1:]:
            stretch = Stretch()
            info = peer_info(p2p_addr(other[0]))
            assert await connect_with_backoff(nodes[0][0], info, retries=1)
            with trio.fail_after(10):
                while not settled(nodes[0], other):
                    await trio.sleep(0.01)
            per_connection.append(stretch.cpu_ms() - idle_rate.cpu_ms_per_s * stretch.seconds())
            per_part.update(stretch.parts_ms(idle_rate))
            await trio.sleep(0.3)  # let the heartbeat's GRAFTs of this peer pass
    count = len(per_connection)
    return {
        "cpu_ms": per_connection,
        "parts": {part: ms / count for part, ms in per_part.items()} if parts else {},
    }


class Stretch:
    """CPU (in all and per part) and wall time from its creation on."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        self.parts = connection_timers.snapshot()
        self.cpu_ms_per_s = 0.0
        self.part_ms_per_s: dict[str, float] = {}

    def seconds(self) -> float:
        return time.perf_counter() - self.wall

    def cpu_ms(self) -> float:
        return 1000 * (time.process_time() - self.cpu)

    def parts_ms(self, idle: Stretch) -> dict[str, float]:
        """CPU ms per part (and the remainder) since the start, less `idle`'s rates."""
        seconds, now = self.seconds(), connection_timers.snapshot()
        parts = {
            part: ms - self.parts.get(part, 0.0) - idle.part_ms_per_s.get(part, 0.0) * seconds
            for part, ms in now.items()
        }
        unwrapped = self.cpu_ms() - sum(now.values()) + sum(self.parts.values())
        parts[REMAINDER] = unwrapped - idle.part_ms_per_s.get(REMAINDER, 0.0) * seconds
        return parts

    def end(self) -> Stretch:
        """Turn this stretch into idle rates (ms of CPU per second, in all and per part)."""
        seconds = self.seconds()
        self.part_ms_per_s = {part: ms / seconds for part, ms in self.parts_ms(self).items()}
        self.cpu_ms_per_s = self.cpu_ms() / seconds
        return self


def child(args: argparse.Namespace) -> None:
    """One measure, printed as JSON (run in the tree under test)."""
    logging.getLogger().setLevel(logging.ERROR)
    print(json.dumps(trio.run(measure, args.hosts, args.bare, args.parts)))


def run_tree(root: Path | None, args: argparse.Namespace) -> dict:
    """Run one measure in a process on `root`'s p2p package (this tree if None)."""
    command = [sys.executable, __file__, "--child", "--hosts", str(args.hosts)]
    command += ["--bare"] * args.bare + ["--parts"] * args.parts
    env = {**os.environ, "PYTHONPATH": str(root or Path(__file__).resolve().parent.parent)}
    done = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=300, cwd=root, env=env
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(runs: dict[str, list[dict]]) -> None:
    """Median CPU per connection per tree, the ratio, and the parts of the last run."""
    medians = {
        label: statistics.median(c for r in rs for c in r["cpu_ms"]) for label, rs in runs.items()
    }
    for label, value in medians.items():
        spread = [round(statistics.median(r["cpu_ms"]), 1) for r in runs[label]]
        print(f"{label:>5}: {value:6.1f} ms CPU per new connection (run medians {spread})")
    if "base" in medians:
        print(f"ratio base / now: {medians['base'] / medians['now']:.2f}")
    for label, rs in runs.items():
        parts = rs[-1]["parts"]
        if parts:
            print(f"\n{label}: CPU per part, ms per new connection (both ends, exclusive timers)")
            for part, ms in sorted(parts.items(), key=lambda item: -item[1]):
                print(f"   {ms:6.2f}  {part}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=9)
    parser.add_argument("--bare", action="store_true", help="hosts only: no gossip, no DHT")
    parser.add_argument("--parts", action="store_true", help="CPU per part (exclusive timers)")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--baseline-ref", help="also measure this commit's p2p, alternating")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    sys.path.insert(0, str(Path(__file__).parent))
    from baseline import alternate

    report(alternate(args.baseline_ref, args.runs, lambda root: run_tree(root, args)))


if __name__ == "__main__":
    main()
