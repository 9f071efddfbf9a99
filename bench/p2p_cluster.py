"""Start p2p nodes as separate processes (bench/p2p_worker.py) and drive them (bench helper)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from pathlib import Path

import trio

WORKER = Path(__file__).with_name("p2p_worker.py")
TREE = WORKER.resolve().parent.parent  # this checkout: its packages are "ours"
STARTUP_TIMEOUT = 240  # seconds; 16 workers importing starknet-py at once on 2 loaded cores


class Worker:
    """One node process; `call` sends a command and returns its JSON reply."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self._buffer = b""
        self.addr = ""

    async def _line(self) -> dict:
        while b"\n" not in self._buffer:
            chunk = await self.process.stdout.receive_some(65536)
            if not chunk:
                raise RuntimeError("worker exited; run it by hand to see its error")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    async def call(self, cmd: str, **args: object) -> dict:
        """Run `cmd` in the worker and return its reply (at most 120 s)."""
        request = json.dumps({"cmd": cmd, "args": args}).encode() + b"\n"
        with trio.fail_after(120):
            await self.process.stdin.send_all(request)
            return await self._line()


@asynccontextmanager
async def worker(
    variant: str, root: Path | None = None, options: Sequence[str] = (),
    script: Path | None = None,
) -> AsyncIterator[Worker]:
    """A running worker process of `variant` ("ours", "prev" or "stock"), with `options`; with
    `root`, the packages of that source tree (bench/baseline.py `source_tree`) and, unless
    `script` names another, its own worker script."""
    if script is None:
        script = WORKER if root is None else root / "bench" / WORKER.name
    process = await trio.lowlevel.open_process(
        [sys.executable, str(script), "--variant", variant, *options],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root or TREE)},
    )
    node = Worker(process)
    try:
        with trio.fail_after(STARTUP_TIMEOUT):
            node.addr = (await node._line())["addr"]
        yield node
    finally:
        with trio.move_on_after(5):
            with suppress(trio.BrokenResourceError):
                await process.stdin.send_all(b'{"cmd": "quit"}\n')
            await process.wait()
        if process.returncode is None:
            process.kill()
            await process.wait()


@asynccontextmanager
async def cluster(
    count: int, variant: str, root: Path | None = None, options: Sequence[str] = (),
    script: Path | None = None,
) -> AsyncIterator[list[Worker]]:
    """`count` workers started concurrently, not yet connected (arguments as for `worker`)."""
    async with AsyncExitStack() as stack:
        nodes: list[Worker] = [None] * count  # type: ignore[list-item]

        async def start(i: int) -> None:
            nodes[i] = await stack.enter_async_context(worker(variant, root, options, script))

        async with trio.open_nursery() as nursery:
            for i in range(count):
                nursery.start_soon(start, i)
        yield nodes


async def connect_line(nodes: Sequence[Worker], extra_links: bool) -> None:
    """Connect i to i-1 (a line); with `extra_links` also to a second earlier node."""
    for i in range(1, len(nodes)):
        await nodes[i].call("connect", addr=nodes[i - 1].addr)
        if extra_links and i >= 2:
            await nodes[i].call("connect", addr=nodes[(i * 7) % (i - 1)].addr)


def percentile(values: Sequence[float], fraction: float) -> float:
    """The `fraction` quantile of `values` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def median(values: Sequence[float]) -> float:
    """The median, or NaN for no values."""
    return statistics.median(values) if values else float("nan")


def add_tuning_arguments(parser: argparse.ArgumentParser) -> None:
    """--mesh and --idontwant: gossip settings for our nodes other than p2p.params'."""
    parser.add_argument(
        "--mesh", type=int, nargs=3, metavar=("D", "D_LO", "D_HI"),
        help="ours: these mesh degrees instead of params.MESH_DEGREE*",
    )
    parser.add_argument(
        "--idontwant", type=int, metavar="BYTES",
        help="ours: IDONTWANT for messages of at least BYTES (params.IDONTWANT_THRESHOLD)",
    )


def tuning_options(args: argparse.Namespace) -> list[str]:
    """The worker options that pass on `add_tuning_arguments`' settings."""
    options = ["--mesh", *map(str, args.mesh)] if args.mesh else []
    return options + (["--idontwant", str(args.idontwant)] if args.idontwant is not None else [])
