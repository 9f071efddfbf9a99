"""A lying executor's Cairo runs: the one fault a real process cannot be made to commit."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from cairo_jobs.model import RunRequest, RunResult
from cairo_jobs.pool import RunnerPool
from p2p.stark import STARK_PRIME


class LyingPool:
    """A runner pool whose results claim a wrong last output felt, for the runs `lies_on`
    picks (default: all)."""

    def __init__(self, pool: RunnerPool,
                 lies_on: Callable[[RunRequest], bool] = lambda request: True) -> None:
        self.pool = pool
        self.lies_on = lies_on

    async def run(self, request: RunRequest, **options: Any) -> RunResult:
        result = await self.pool.run(request, **options)
        if not self.lies_on(request):
            return result
        *head, last = result.output
        return dataclasses.replace(result, output=[*head, (last + 1) % STARK_PRIME])
