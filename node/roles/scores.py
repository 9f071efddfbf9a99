"""Executor scores: kept by validators from synthetic jobs, read by delegators to choose bids.

A validator's `ScoreBook` tallies, per executor, the synthetic jobs it sent and how each ended:
`correct` (paid with the known answer; its latency from assignment to payment is kept), `wrong`
(a witness with another output was announced) or `missed` (no bid, not done in time). The score,
in basis points, is

    score = 10 000 × (correct + 1) / (tested + 2 + wrong) × REF / (REF + median latency)

(REF = LATENCY_REF_MS): Laplace-smoothed correctness in which a wrong answer counts twice, times
a speed factor that halves at a median latency of REF. A new executor starts at 2 500.

A delegator's `ScoreTable` keeps the latest report of each (validator, executor) from validators
it trusts, and gives an executor the median of their scores (None when no one scored it).
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from p2p.messages import MAX_SCORE, ScoreReport, SignedScoreReport

LATENCY_REF_MS = 5_000
"""The latency (assignment → payment) at which the speed factor is one half."""

LATENCY_SAMPLES = 32
"""Recent latencies kept per executor."""

Verdict = Literal["correct", "wrong", "missed"]


@dataclass
class ExecutorRecord:
    """What one validator knows of one executor."""

    tested: int = 0
    correct: int = 0
    wrong: int = 0
    latencies_ms: deque[int] = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES))
    last_tested: float = 0.0

    @property
    def median_latency_ms(self) -> int:
        return int(statistics.median(self.latencies_ms)) if self.latencies_ms else 0

    @property
    def score(self) -> int:
        correctness = (self.correct + 1) / (self.tested + 2 + self.wrong)
        latency = self.median_latency_ms if self.latencies_ms else LATENCY_REF_MS
        speed = LATENCY_REF_MS / (LATENCY_REF_MS + latency)
        return min(MAX_SCORE, round(MAX_SCORE * correctness * speed))


class ScoreBook:
    """A validator's tally of the synthetic jobs it sent, per executor."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.records: dict[int, ExecutorRecord] = {}

    def sent(self, executor: int) -> None:
        """A synthetic job was assigned to `executor`."""
        record = self.records.setdefault(executor, ExecutorRecord())
        record.last_tested = self.clock()

    def record(self, executor: int, verdict: Verdict, latency_s: float | None = None) -> None:
        """How a synthetic job sent to `executor` ended (`latency_s` for a correct one)."""
        record = self.records.setdefault(executor, ExecutorRecord())
        record.tested += 1
        if verdict == "correct":
            record.correct += 1
            if latency_s is not None:
                record.latencies_ms.append(max(0, round(latency_s * 1000)))
        elif verdict == "wrong":
            record.wrong += 1

    def next_target(self, candidates: Iterable[int]) -> int | None:
        """The candidate tested least recently (never tested first)."""
        never = ExecutorRecord()
        return min(
            candidates,
            key=lambda executor: self.records.get(executor, never).last_tested,
            default=None,
        )

    def report(self, validator: int, executor: int) -> ScoreReport:
        """The score report to publish for `executor`."""
        record = self.records.get(executor, ExecutorRecord())
        return ScoreReport(
            validator=validator, executor=executor, tested=record.tested,
            correct=record.correct, median_latency_ms=record.median_latency_ms,
            score=record.score, issued_at=int(self.clock()),
        )

    def table(self) -> list[dict[str, int]]:
        """One row per executor, best score first."""
        rows = [
            {"executor": executor, "score": r.score, "tested": r.tested, "correct": r.correct,
             "wrong": r.wrong, "median_latency_ms": r.median_latency_ms}
            for executor, r in self.records.items()
        ]
        return sorted(rows, key=lambda row: -row["score"])


IsTrusted = Callable[[int], Awaitable[bool]]
"""Whether reports signed by this validator account are to be believed (asked once each)."""


class ScoreTable:
    """A delegator's view of executor scores, from the reports of validators it trusts."""

    def __init__(self, is_trusted: IsTrusted) -> None:
        self.is_trusted = is_trusted
        self._trust: dict[int, bool] = {}
        self._latest: dict[tuple[int, int], ScoreReport] = {}
        self.untrusted = 0
        """Reports dropped because their validator is not trusted."""

    async def add(self, signed: SignedScoreReport) -> bool:
        """Keep a (gossip-validated) report if its validator is trusted and it is the newest."""
        report = signed.report
        trusted = self._trust.get(report.validator)
        if trusted is None:
            trusted = self._trust[report.validator] = await self.is_trusted(report.validator)
        if not trusted:
            self.untrusted += 1
            return False
        key = (report.validator, report.executor)
        held = self._latest.get(key)
        if held is not None and held.issued_at > report.issued_at:
            return False
        self._latest[key] = report
        return True

    def score(self, executor: int) -> int | None:
        """The median score trusted validators give `executor`, or None if none scored it."""
        scores = [r.score for (_, e), r in self._latest.items() if e == executor and r.tested]
        return int(statistics.median(scores)) if scores else None
