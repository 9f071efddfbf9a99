"""Where the devnet's time goes: wall time per named stage of request handling, summed.

Stages nest (a request's `rpc starknet_addInvokeTransaction` holds its `validate`, `execute`,
...); each total is that stage's own wall time, children included. `devnet_stageTimes` returns
the totals (and resets them); `bench/devnet_invokes.py --stages` prints them per transaction.
The HTTP stages run on the event loop's thread, the rest on the chain's worker: a lock keeps
the totals whole.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class StageTimes:
    """Nanoseconds and entries per stage name since the last `take`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[str, list[int]] = {}

    def add(self, name: str, nanoseconds: int) -> None:
        with self._lock:
            entry = self._totals.setdefault(name, [0, 0])
            entry[0] += nanoseconds
            entry[1] += 1

    def count(self, name: str) -> None:
        """Count one entry of `name` (an event, no time)."""
        self.add(name, 0)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Count the wall time of the `with` block under `name` (also when it raises)."""
        started = time.perf_counter_ns()
        try:
            yield
        finally:
            self.add(name, time.perf_counter_ns() - started)

    def take(self) -> dict[str, dict[str, float]]:
        """{stage: {"count", "ms"}} since the last call, in first-seen order; starts anew."""
        with self._lock:
            totals, self._totals = self._totals, {}
        return {name: {"count": count, "ms": ns / 1e6} for name, (ns, count) in totals.items()}


TIMES = StageTimes()
stage = TIMES.stage
