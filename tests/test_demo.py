"""The README's first command: the main job runs and its checks pass."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_runs_the_main_job() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["checks"] == "signature, body id and program hash verified"
    assert len(bytes.fromhex(summary["body_id"])) == 32
    assert summary["output"] == [10, 55]  # fibonacci: [n, fib(n)] for n = 10
    assert "executor checks signature=True" in result.stderr
