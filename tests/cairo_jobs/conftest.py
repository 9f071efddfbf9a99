"""Shared fixtures: example programs compiled by cairo-lang's own CLI, small bad programs."""

from __future__ import annotations

import contextlib
import io
import json
import os
import runpy
import sys
from pathlib import Path

import pytest

from cairo_jobs.examples import EXAMPLES

STARK_PRIME = 2**251 + 17 * 2**192 + 1


def cli(tool: str, *args: str | Path) -> str:
    """Runs one of cairo-lang's command-line tools and returns what it printed.

    The installed script runs in this process with patched argv (the same code as the command,
    without paying the interpreter start-up for each call).
    """
    script = Path(sys.executable).parent / tool
    stdout, stderr = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = [tool, *map(str, args)]
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            runpy.run_path(str(script), run_name="__main__")
        status = 0
    except SystemExit as exit_:
        status = exit_.code
    finally:
        sys.argv = argv
    assert not status, f"{tool} failed ({status}): {stderr.getvalue()}"
    return stdout.getvalue()


@pytest.fixture(scope="session")
def cli_compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each example compiled with `cairo-compile --proof_mode`, and its sample input file."""
    out = tmp_path_factory.mktemp("compiled")
    paths = {}
    for name, example in EXAMPLES.items():
        paths[name] = out / f"{name}.json"
        cli("cairo-compile", "--proof_mode", example.path, "--output", paths[name])
        (out / f"{name}_input.json").write_text(json.dumps(example.sample_input))
    return paths


def compile_snippet(tmp_path: Path, source: str, proof_mode: bool = True) -> bytes:
    """Compiles a small test program with cairo-compile and returns the JSON bytes."""
    source_path = tmp_path / "snippet.cairo"
    source_path.write_text(source)
    out = tmp_path / "snippet.json"
    cli("cairo-compile", *(["--proof_mode"] if proof_mode else []), source_path, "--output", out)
    return out.read_bytes()


INFINITE_LOOP = """
func main() {
    loop:
    jmp loop;
}
"""

HINT_MEMORY_BOMB = """
%builtins output
func main{output_ptr: felt*}() {
    %{ hoard = bytearray(16 * 2**30) %}
    return ();
}
"""


def worker_pids() -> set[int]:
    """Pids of this process's live cairo_jobs.worker children."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, ppid = fields[0], int(fields[1])
        if ppid == os.getpid() and state != "Z" and b"cairo_jobs.worker" in cmdline:
            pids.add(int(entry.name))
    return pids
