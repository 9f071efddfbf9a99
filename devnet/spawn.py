"""Start a devnet in a child process (`python -m devnet`) for tests, benchmarks and demos."""

from __future__ import annotations

import contextlib
import json
import select
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parent.parent

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


@contextlib.contextmanager
def source_tree(ref: str) -> Iterator[Path]:
    """The files of commit `ref` of this repository in a temporary directory (removed on exit),
    to run another version's code from (as the current directory: `python -m devnet`)."""
    with tempfile.TemporaryDirectory(prefix="devnet-baseline-") as root:
        archive = subprocess.run(["git", "-C", str(REPOSITORY), "archive", ref],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", root], input=archive, check=True)
        yield Path(root)
