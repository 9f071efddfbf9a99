"""A devnet process on 127.0.0.1 for the tests, started with `python -m devnet`."""

from __future__ import annotations

import json
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

START_TIMEOUT_S = 120


class DevnetProcess:
    """A running `node devnet` process and the summary it printed."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devnet", "--port", "0", "--json", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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
        """Stop with SIGTERM (the devnet dumps on exit); return its stderr."""
        if self.process.poll() is None:
            self.process.terminate()
        _, stderr = self.process.communicate(timeout=60)
        return stderr


@pytest.fixture(scope="module")
def dump_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("devnet") / "dump.json"


@pytest.fixture(scope="module")
def devnet(dump_path: Path) -> Iterator[DevnetProcess]:
    process = DevnetProcess("--accounts", "2", "--seed", "7", "--dump-path", str(dump_path))
    yield process
    process.stop()
