"""Where the time of an end-to-end run goes: the chain's requests, each process's CPU, each
job's steps in the nodes' logs. Used by `bench/e2e_jobs.py --profile`.

- `RpcCounter`: a JSON-RPC proxy on 127.0.0.1 in front of the devnet (a child process) that
  counts the requests of each method and the time the devnet took to answer them.
- `cpu_seconds`: user + system CPU time of a process and its live children (/proc, Linux).
- `node_stamps`: the Unix time of each step of each job, from a node's JSON log.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class RpcCounter:
    """A child process that forwards JSON-RPC requests to `target` and counts them by method
    (requests, seconds the target took to answer). Use as a context manager; `url` is what
    nodes should use as `chain.rpc_url`; `counts()` reads the totals so far."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.url = ""
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> RpcCounter:
        self._process = subprocess.Popen(
            [sys.executable, __file__, self.target], stdout=subprocess.PIPE, text=True,
            stdin=subprocess.DEVNULL)
        assert self._process.stdout is not None
        port = int(self._process.stdout.readline())
        self.url = f"http://127.0.0.1:{port}/rpc"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._process is not None
        self._process.terminate()
        self._process.wait(10)

    def counts(self) -> dict[str, tuple[int, float]]:
        """method -> (requests, seconds the target took to answer them), since the start."""
        with urllib.request.urlopen(self.url.replace("/rpc", "/counts"), timeout=30) as answer:
            return {method: (count, seconds)
                    for method, (count, seconds) in json.loads(answer.read()).items()}


class _Proxy:
    def __init__(self, target: str) -> None:
        self.target = target
        self.counts: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        self.session: aiohttp.ClientSession | None = None

    async def forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        assert self.session is not None
        started = time.monotonic()
        async with self.session.post(self.target, data=body,
                                     headers={"Content-Type": "application/json"}) as answer:
            reply = await answer.read()
            status = answer.status
        methods = _methods(body)
        for method in methods:
            self.counts[method][0] += 1
            self.counts[method][1] += (time.monotonic() - started) / len(methods)
        return web.Response(body=reply, status=status, content_type="application/json")

    async def totals(self, request: web.Request) -> web.Response:
        return web.json_response(self.counts)

    async def serve(self) -> None:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300))
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/rpc", self.forward)
        app.router.add_get("/counts", self.totals)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(site._server.sockets[0].getsockname()[1], flush=True)  # type: ignore[union-attr]
        await asyncio.Event().wait()


def _methods(body: bytes) -> list[str]:
    try:
        payload = json.loads(body)
    except ValueError:
        return ["(unparsable)"]
    items = payload if isinstance(payload, list) else [payload]
    return [str(item.get("method")) if isinstance(item, dict) else "(bad)" for item in items] \
        or ["(empty)"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` and of its live descendants (0 once gone)."""
    children: defaultdict[int, list[int]] = defaultdict(list)
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after the name: state, ppid, ..., utime (14th field of stat) is index 11 here
        children[int(fields[1])].append(int(entry.name))
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += times.get(current, 0.0)
        todo.extend(children.get(current, ()))
    return total


def node_stamps(log_lines: Iterable[str], messages: dict[str, str]) -> dict[int, dict[str, float]]:
    """job hash -> step -> first Unix time, from a node's JSON log lines that carry a `job`:
    a job store transition is the step named by its new state, another line the step that
    `messages` (log message -> step) names."""
    stamps: dict[int, dict[str, float]] = defaultdict(dict)
    for line in log_lines:
        try:
            event: Any = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict) or "job" not in event:
            continue
        message = event.get("msg", "")
        step = event.get("to") if message == "job transition" else messages.get(message)
        if step is not None:
            stamps[int(event["job"], 16)].setdefault(step, float(event["ts"]))
    return stamps


if __name__ == "__main__":
    asyncio.run(_Proxy(sys.argv[1]).serve())
