"""Driving `node delegate --stream --json` as a process: stdin requests, stdout replies."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from typing import Any

from cairo_jobs.examples import EXAMPLES
from node.localnet import LocalNetwork

SESSION_TIMEOUT_S = 120.0
RUN_TIMEOUT_S = 240.0


def delegate_stream(network: LocalNetwork, account_index: int, reward: int, lines: list[str],
                    *args: str, name: str = "delegator-stream", program: str = "stream_digest",
                    settings: dict[str, str] | None = None,
                    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """Run `node delegate PROGRAM --stream --json` (an example program) as node `name` (a
    libp2p identity of its own) and write `lines` on its stdin once its session is open; its
    reply lines, progress events and outcome (`settings`: as ZETINA_ variables)."""
    process = _start(network, account_index, reward, args, name, program, settings)
    events: list[dict[str, Any]] = []
    opened = threading.Event()
    stdout: list[str] = []
    readers = [threading.Thread(target=_read_events, args=(process, events, opened)),
               threading.Thread(target=lambda: stdout.extend(process.stdout or ()))]
    for reader in readers:
        reader.start()
    try:
        assert opened.wait(SESSION_TIMEOUT_S), events
        assert process.stdin is not None
        process.stdin.write("".join(line + "\n" for line in lines))
        process.stdin.close()
        process.wait(RUN_TIMEOUT_S)
    finally:
        process.kill()
        process.wait()
        for reader in readers:
            reader.join(10)
    printed = _json_values("".join(stdout))
    assert printed, events
    return printed[:-1], events, printed[-1]


def stream_until(network: LocalNetwork, account_index: int, reward: int, last: str, *args: str,
                 name: str = "delegator-stream") -> list[dict[str, Any]]:
    """Run `node delegate stream_digest --stream --json` until it reports the event `last`,
    then kill it; its progress events."""
    process = _start(network, account_index, reward, args, name, "stream_digest", None)
    events: list[dict[str, Any]] = []
    seen = threading.Event()
    reader = threading.Thread(target=_read_events, args=(process, events, seen, last))
    reader.start()
    try:
        assert seen.wait(SESSION_TIMEOUT_S), events
        assert any(event.get("event") == last for event in events), events
    finally:
        process.kill()
        process.wait()
        reader.join(10)
    return events


def _start(network: LocalNetwork, account_index: int, reward: int, args: tuple[str, ...],
           name: str, program: str, settings: dict[str, str] | None,
           ) -> subprocess.Popen[str]:
    if not (network.data_dir(name) / "keystore.json").exists():
        network.import_keys(name, account_index)
    bootstrap = [arg for node in network.nodes if node.process.poll() is None
                 for arg in ("--bootstrap", node.address)]
    command = [sys.executable, "-m", "node", "delegate", str(EXAMPLES[program].path),
               "--stream", "--reward", f"{reward}fri", "--json", "--log-level", "warning",
               "--config", str(network.config_path),
               "--data-dir", str(network.data_dir(name)), *bootstrap, *args]
    return subprocess.Popen(command, env=network.env(account_index, settings),
                            stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _json_values(text: str) -> list[Any]:
    """Every JSON value in `text`, one after the other (reply lines, then the outcome, which
    spans several lines)."""
    decoder, values, index = json.JSONDecoder(), [], 0
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        value, index = decoder.raw_decode(text, index)
        values.append(value)
    return values


def _read_events(process: subprocess.Popen[str], events: list[dict[str, Any]],
                 seen: threading.Event, *wanted: str) -> None:
    """Collect the progress events; set `seen` at the first of `wanted` (default: the
    session's opening or failure) or at the end."""
    assert process.stderr is not None
    for line in process.stderr:
        try:
            event = json.loads(line)
        except ValueError:
            event = {"event": "log", "line": line}
        events.append(event)
        if event.get("event") in (wanted or ("session", "session_failed")):
            seen.set()
    seen.set()
