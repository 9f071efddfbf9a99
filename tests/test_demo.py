"""The README's first command: a local network runs, verifies and pays a real job."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def test_demo_pays_a_real_job_across_processes() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    outcome = json.loads(result.stdout)
    assert outcome["state"] == "paid"
    assert [int(felt, 16) for felt in outcome["output"]] == [10, 55]  # [n, fib(n)], n = 10
    assert outcome["reward"] == 10**15
    for step in ("validator ready", "executor-1 ready", "executor-2 ready", "delegator: assigned",
                 "delegator: paid"):
        assert step in result.stderr
