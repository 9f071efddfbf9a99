"""Start a devnet in a child process (`python -m devnet`) for tests, benchmarks and demos."""

from __future__ import annotations

import json
import select
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

START_TIMEOUT_S = 120
STOP_TIMEOUT_S = 60


class DevnetProcess:
    """A running devnet on 127.0.0.1 (any free port) and the summary it printed at start-up.

    Its log (stderr) goes to a temporary file, not a pipe: nobody reads a pipe while the devnet
    runs, and a full one (~64 KiB of log lines) would block the devnet's next write.
    """

    def __init__(self, *args: str, cwd: Path | None = None) -> None:
        """Start `python -m devnet` with `args`, from `cwd` (another checkout's devnet) if
        given."""
        # Open as long as this object: read by `read_log`, deleted when garbage-collected.
        self.log = tempfile.TemporaryFile("w+", prefix="devnet-", suffix=".log")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devnet", "--port", "0", "--json", *args],
            stdout=subprocess.PIPE, stderr=self.log, text=True, cwd=cwd)
        ready, _, _ = select.select([self.process.stdout], [], [], START_TIMEOUT_S)
        if not ready:
            self.stop()
            raise RuntimeError(f"devnet did not start within {START_TIMEOUT_S}s")
        line = self.process.stdout.readline()  # type: ignore[union-attr]
        if not line:
            raise RuntimeError(f"devnet exited: {self.stop()}")
        self.info: dict[str, Any] = json.loads(line)
        self.url: str = self.info["rpc_url"]

    def stop(self) -> str:
        """Stop with SIGTERM (the devnet dumps on exit if it has a dump path); return its log."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.communicate(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
        return self.read_log()

    def read_log(self) -> str:
        """Everything the devnet has logged so far."""
        self.log.seek(0)
        return self.log.read()

    def __enter__(self) -> DevnetProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
