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
                    *args: str, name: str = "delegator-stream",
                    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """Run `node delegate stream_digest --stream --json` as node `name` (a libp2p identity of
    its own) and write `lines` on its stdin once its session is open; its reply lines,
    progress events and outcome."""
    if not (network.data_dir(name) / "keystore.json").exists():
        network.import_keys(name, account_index)
    bootstrap = [arg for node in network.nodes if node.process.poll() is None
                 for arg in ("--bootstrap", node.address)]
    command = [sys.executable, "-m", "node", "delegate", str(EXAMPLES["stream_digest"].path),
               "--stream", "--reward", f"{reward}fri", "--json", "--log-level", "warning",
               "--config", str(network.config_path),
               "--data-dir", str(network.data_dir(name)), *bootstrap, *args]
    process = subprocess.Popen(command, env=network.env(account_index), stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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
                 opened: threading.Event) -> None:
    assert process.stderr is not None
    for line in process.stderr:
        try:
            event = json.loads(line)
        except ValueError:
            event = {"event": "log", "line": line}
        events.append(event)
        if event.get("event") in ("session", "session_failed"):
            opened.set()
    opened.set()
