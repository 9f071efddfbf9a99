"""Another commit's code for a bench's baseline: the files of commit `ref`, extracted with `git
archive` into a temporary directory that is removed afterwards. Run it with that directory as
the current directory and on PYTHONPATH (the editable install points at this tree)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def source_tree(ref: str) -> Iterator[Path]:
    """The files of commit `ref` of this repository in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as root:
        archive = subprocess.run(["git", "-C", str(REPOSITORY), "archive", ref],
                                 capture_output=True, check=True, timeout=120).stdout
        subprocess.run(["tar", "-x", "-C", root], input=archive, check=True, timeout=120)
        yield Path(root)


def alternate(ref: str | None, runs: int, measure: Callable[[Path | None], dict]) -> dict:
    """`measure(None)` (this tree) and, with `ref`, `measure(ref's tree)`, alternating `runs`
    times; the results by label ("now", "base"), with the load average before and after."""
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    results: dict[str, list[dict]] = {"now": []}
    with source_tree(ref) if ref else contextlib.nullcontext() as root:
        for _ in range(runs):
            results["now"].append(measure(None))
            if root is not None:
                results.setdefault("base", []).append(measure(root))
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return results
