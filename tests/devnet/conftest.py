"""A devnet process on 127.0.0.1 shared by the tests of a module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devnet.spawn import DevnetProcess


@pytest.fixture(scope="module")
def dump_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("devnet") / "dump.json"


@pytest.fixture(scope="module")
def devnet(dump_path: Path) -> Iterator[DevnetProcess]:
    process = DevnetProcess("--accounts", "2", "--seed", "7", "--dump-path", str(dump_path))
    yield process
    process.stop()
