"""`node ARGS` run through `node.cli.main` in the test process: the code a user runs, without
paying Python's start-up (seconds of imports) for each command."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import os
from typing import Any

import pytest

from node.cli import main


@dataclasses.dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines()]


def run_cli(*argv: str) -> Result:
    """Exit status, stdout and stderr of `node ARGV`; logging is restored after (main() points
    it at its stderr)."""
    out, err = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exit_:  # argparse's usage errors
            code = int(exit_.code or 0)
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)
    return Result(code, out.getvalue(), err.getvalue())


def clean_environment(monkeypatch: pytest.MonkeyPatch, **settings: str) -> None:
    """No ZETINA_ variable from the caller's environment, only `settings` (name: value)."""
    for name in [n for n in os.environ if n.startswith("ZETINA_")]:
        monkeypatch.delenv(name)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
