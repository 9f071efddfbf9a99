"""A validator's synthetic jobs: known-answer jobs that score executors.

Every `validator.synthetic_interval` seconds the validator picks the executor it tested least
recently among those seen bidding, draws a task bound to it (node/roles/known_answers.py) and
delegates it like any job, assigned to that executor alone, paying the reward from its own
escrow. While it knows no executor, it sends an unbound task that any executor may take: the
bids it draws make the executors known, and the one assigned is scored.

A job ends `correct` (paid with the known answer: its assignment → payment latency is kept),
`wrong` (a witness with another output was announced: this validator's own check refuses it,
and the job is dropped at once) or `missed` (no bid, or not paid by the deadline). Each verdict
updates the `ScoreBook` and publishes the executor's signed score on `/zetina/1/scores`; every
score is re-published every `validator.score_republish_interval`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import trio

from cairo_jobs.examples import compiled
from node.errors import UserError
from node.roles.delegator import Delegator, JobSpec
from node.roles.known_answers import SyntheticTask, draw_task
from node.roles.scores import ScoreBook, Verdict
from node.roles.services import Services
from node.roles.validator import Checked
from p2p import params
from p2p.signing import sign_score

log = logging.getLogger(__name__)

SYNTHETIC_MAX_STEPS = 1_000_000
"""The header's step limit (the CLI's default, so the header looks like an organic one's)."""

BIDDER_MEMORY_S = 600.0
"""Executors that have not bid for this long are not tested."""


class SyntheticTester:
    """Sends synthetic jobs one at a time and keeps the scores (`run` until cancelled)."""

    def __init__(
        self,
        services: Services,
        delegator: Delegator,
        book: ScoreBook,
        report: Callable[[dict[str, Any]], None] = lambda row: None,
    ) -> None:
        self.services = services
        self.delegator = delegator
        self.book = book
        self.report = report
        self._running: dict[int, trio.CancelScope] = {}
        """Synthetic jobs under way: job hash -> the scope that ends one early."""
        self._wrong: set[int] = set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        settings = self.services.config.validator
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._republish_scores)
            task_status.started()
            while True:
                await trio.sleep(settings.synthetic_interval)
                await self.test(self.book.next_target(self._recent_bidders()))

    def on_checked(self, checked: Checked) -> None:
        """Told of each witness this validator checked: a refused one of ours is `wrong`."""
        scope = self._running.get(checked.job_hash)
        if scope is not None and not checked.valid:
            self._wrong.add(checked.job_hash)
            scope.cancel()

    async def test(self, executor: int | None) -> Verdict | None:
        """Send one synthetic job to `executor` (None: to any), score the executor that had it
        and publish its score.

        None when no executor took it, or it could not be sent (this node's escrow is short:
        deposit more).
        """
        settings = self.services.config.validator
        task = draw_task(executor or 0, settings.synthetic_programs, settings.synthetic_size)
        spec = JobSpec(
            program=compiled(task.program), program_input=task.input_json, layout=task.layout,
            reward=settings.synthetic_reward,
            deadline=int(time.time() + settings.synthetic_deadline),
            max_steps=SYNTHETIC_MAX_STEPS,
        )
        if executor is not None:
            self.book.sent(executor)
        try:
            assigned, verdict, latency = await self._delegate(spec, task, executor)
        except UserError as error:
            log.warning("synthetic job not sent", extra={"reason": str(error)})
            return None
        executor = executor if executor is not None else assigned
        if executor is None:
            return None
        if assigned is None:
            verdict = "missed"
        self.book.record(executor, verdict, latency)
        await self._publish_score(executor)
        row = next(row for row in self.book.table() if row["executor"] == executor)
        self.report({"verdict": verdict, **row})
        return verdict

    async def _delegate(
        self, spec: JobSpec, task: SyntheticTask, only: int | None
    ) -> tuple[int | None, Verdict, float | None]:
        """Delegate the task: (the executor assigned, if any; the verdict; its latency)."""
        marks: dict[str, Any] = {}
        scope = trio.CancelScope()

        def progress(step: str, details: dict[str, Any]) -> None:
            if step == "published":
                marks["job"] = job = int(details["job"], 16)
                self._running[job] = scope
            elif step == "assigned" and "executor" in details:
                marks["executor"] = int(details["executor"], 16)
                marks.setdefault("assigned", time.monotonic())

        outcome = None
        try:
            with scope:
                outcome = await self.delegator.delegate(spec, progress, only=only)
        finally:
            job = marks.get("job")
            self._running.pop(job, None)
        assigned = marks.get("executor")
        if job in self._wrong:
            self._wrong.discard(job)
            self.services.transition(job, "failed", "synthetic job: wrong output announced")
            return assigned, "wrong", None
        if outcome is None or outcome.payment is None:
            return assigned, "missed", None
        if tuple(outcome.payment.output) != task.expected_output:
            return outcome.payment.executor, "wrong", None
        latency = time.monotonic() - marks.get("assigned", time.monotonic())
        return outcome.payment.executor, "correct", latency

    def _recent_bidders(self) -> list[int]:
        since = time.time() - BIDDER_MEMORY_S
        return [executor for executor, at in self.delegator.bidders.items() if at >= since]

    async def _publish_score(self, executor: int) -> None:
        services = self.services
        report = self.book.report(services.wallet.address, executor)
        signed = sign_score(report, services.network.chain_id, services.wallet.key)
        try:
            await services.p2p.gossip.publish(params.TOPIC_SCORES, signed.encode())
        except Exception as error:  # the next round re-publishes it
            log.warning("score not published", extra={"error": repr(error)})

    async def _republish_scores(self) -> None:
        while True:
            await trio.sleep(self.services.config.validator.score_republish_interval)
            for executor in list(self.book.records):
                await self._publish_score(executor)
