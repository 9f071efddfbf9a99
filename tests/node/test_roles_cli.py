"""`node delegate | serve | validate`: arguments and settings refused before anything starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cairo_jobs.examples import EXAMPLES

FIBONACCI = EXAMPLES["fibonacci"].path


def node(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "node", *args, "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env={"PATH": "/usr/bin:/bin", "ZETINA_KEYSTORE_PASSWORD": "x"},
    )


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    files = {"not_a_program.json": '{"not": "a program"}', "broken.cairo": "func main( {",
             "list.json": "[1, 2]"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return {name: tmp_path / name for name in files}


def test_bad_delegate_arguments_are_refused_with_what_is_wrong(
    tmp_path: Path, inputs: dict[str, Path]
) -> None:
    fib = str(FIBONACCI)
    cases = [
        ([fib, "--input", "[1, 2]", "--reward", "5"], "must be a JSON object"),
        ([fib, "--input", str(inputs["list.json"]), "--reward", "5"], "must be a JSON object"),
        ([fib, "--input", "{oops", "--reward", "5"], "neither valid JSON nor a readable file"),
        ([fib, "--input", str(inputs["broken.cairo"]), "--reward", "5"], "is not valid JSON"),
        ([str(inputs["not_a_program.json"]), "--reward", "5"], "not a compiled Cairo program"),
        ([str(inputs["broken.cairo"]), "--reward", "5"], "does not compile"),
        ([str(tmp_path / "missing.cairo"), "--reward", "5"], "cannot read the program"),
        ([fib, "--reward", "-3"], "--reward '-3': must be more than zero"),
        ([fib, "--reward", "lots"], "--reward 'lots': not a number"),
        ([fib, "--reward", "5", "--output-volume", "table"], "add --wait"),
        ([fib, "--reward", "5"], "chain.account is not set"),  # all good but no account
    ]
    for args, message in cases:
        done = node("delegate", *args, data_dir=tmp_path / "node")
        assert done.returncode in (1, 2) and message in done.stderr, (args, done.stderr)
    assert not (tmp_path / "node" / "jobs.sqlite").exists()


def test_roles_need_an_account_keys_and_contracts(tmp_path: Path) -> None:
    for role in ("serve", "validate"):
        done = node(role, data_dir=tmp_path)
        assert done.returncode == 2 and "chain.account is not set" in done.stderr

    def serve() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "node", "serve", "--data-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
            env={"PATH": "/usr/bin:/bin", "ZETINA_CHAIN_ACCOUNT": "0x123",
                 "ZETINA_KEYSTORE_PASSWORD": "x"},
        )

    done = serve()
    assert done.returncode == 1 and "no keystore" in done.stderr and "node keys" in done.stderr
    (tmp_path / "key").write_text("0x1234")
    imported = node("keys", "import", "--private-key-file", str(tmp_path / "key"),
                    data_dir=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert (tmp_path / "identity.key").exists()  # the import made the libp2p identity too
    done = serve()
    assert done.returncode == 2 and "contracts.registry is not set" in done.stderr
