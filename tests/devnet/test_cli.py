"""`node devnet` refuses bad configuration and bad dump files with a clear message."""

import socket
from pathlib import Path

import pytest

from devnet.cli import main


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[devnet]\nport = 'high'\n", "devnet.port"),
        ("[devnet]\ncolour = 'blue'\n", "unknown key 'colour'"),
        ("[devnet\n", "error"),
        ("[devnet]\nblock_time = -1\n", "out of range"),
        ("[devnet]\nvalidate_workers = 2\n", "validate_workers must be 0 (off), 1 (on)"),
        ("[devnet]\nvalidate_workers = 'yes'\n", "devnet.validate_workers"),
    ],
)
def test_bad_config_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str, message: str
) -> None:
    config = tmp_path / "devnet.toml"
    config.write_text(toml)
    assert main(["--config", str(config)]) == 2
    assert message in capsys.readouterr().err


def test_missing_config_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(tmp_path / "absent.toml")]) == 2
    assert "absent.toml" in capsys.readouterr().err


@pytest.mark.parametrize("content", ["not json", '{"format": 99}', '{"format": 1}'])
def test_bad_dump_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str
) -> None:
    dump = tmp_path / "dump.json"
    dump.write_text(content)
    assert main(["--dump-path", str(dump)]) == 2
    assert capsys.readouterr().err.startswith("error:")
    assert dump.read_text() == content, "a refused dump must not be overwritten"


def test_busy_port_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--port", str(port), "--accounts", "1"]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
