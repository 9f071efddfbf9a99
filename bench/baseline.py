"""Another commit's code for a bench's baseline: the files of commit `ref`, extracted with `git
archive` into a temporary directory that is removed afterwards. Run it with that directory as
the current directory and on PYTHONPATH (the editable install points at this tree)."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Iterator
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
