"""Synthetic jobs' known answers and executor scores (validator book, delegator table)."""

from __future__ import annotations

import dataclasses

import pytest

from cairo_jobs.examples import EXAMPLES, compiled
from cairo_jobs.model import RunRequest
from cairo_jobs.vm import execute
from node.roles.known_answers import PROGRAMS, draw_task
from node.roles.scores import LATENCY_REF_MS, ScoreBook, ScoreTable
from p2p.messages import MAX_SCORE, ScoreReport, SignedScoreReport

EXECUTOR, OTHER = 0xE1, 0xE2
VALIDATOR, STRANGER, SECOND = 0xA1, 0xA2, 0xA3


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_known_answer_equals_the_cairo_run(name: str) -> None:
    task = draw_task(EXECUTOR, [name], size=25)
    request = RunRequest(compiled(name), task.program_input, EXAMPLES[name].layout)
    assert tuple(execute(request).output) == task.expected_output


def test_tasks_are_fresh_and_bound_to_their_executor() -> None:
    same_nonce = [draw_task(executor, ["long_loop"], 10, nonce=7) for executor in (1, 2)]
    assert same_nonce[0].program_input != same_nonce[1].program_input  # bound to the executor
    fresh = {draw_task(EXECUTOR, ["long_loop"], 10).program_input["x"] for _ in range(5)}
    assert len(fresh) == 5  # never the same input twice
    assert draw_task(EXECUTOR, ["long_loop"], 10, nonce=7) == draw_task(
        EXECUTOR, ["long_loop"], 10, nonce=7)


def test_unknown_or_missing_programs_are_refused() -> None:
    with pytest.raises(ValueError, match="no known-answer model for \\['fibonacci'\\]"):
        draw_task(EXECUTOR, ["fibonacci"], 10)
    with pytest.raises(ValueError, match="no synthetic programs"):
        draw_task(EXECUTOR, [], 10)


def test_scores_move_with_correctness() -> None:
    book = ScoreBook()
    start = book.report(VALIDATOR, EXECUTOR).score
    for _ in range(4):
        book.record(EXECUTOR, "correct", latency_s=2.0)
        book.record(OTHER, "wrong")
    assert book.report(VALIDATOR, EXECUTOR).score > start > book.report(VALIDATOR, OTHER).score
    book.record(OTHER, "missed")
    missed_once = book.report(VALIDATOR, OTHER).score
    book.record(OTHER, "wrong")
    assert book.report(VALIDATOR, OTHER).score < missed_once


def test_scores_move_with_speed() -> None:
    book = ScoreBook()
    for _ in range(5):
        book.record(EXECUTOR, "correct", latency_s=1.0)
        book.record(OTHER, "correct", latency_s=20.0)
    fast, slow = (book.report(VALIDATOR, e) for e in (EXECUTOR, OTHER))
    assert fast.score > 2 * slow.score
    assert (fast.median_latency_ms, slow.median_latency_ms) == (1000, 20000)
    assert (fast.tested, fast.correct) == (5, 5)


def test_score_formula_and_bounds() -> None:
    book = ScoreBook()
    assert book.report(VALIDATOR, EXECUTOR).score == MAX_SCORE // 4  # (0+1)/(0+2) × 1/2
    for _ in range(1000):
        book.record(EXECUTOR, "correct", latency_s=0)
    assert book.report(VALIDATOR, EXECUTOR).score == round(MAX_SCORE * 1001 / 1002)
    book.record(OTHER, "correct", latency_s=LATENCY_REF_MS / 1000)
    assert book.report(VALIDATOR, OTHER).score == round(MAX_SCORE * 2 / 3 * 0.5)


def test_next_target_is_the_least_recently_tested() -> None:
    now = [100.0]
    book = ScoreBook(clock=lambda: now[0])
    assert book.next_target([]) is None
    book.sent(EXECUTOR)
    assert book.next_target([EXECUTOR, OTHER]) == OTHER
    now[0] = 200.0
    book.sent(OTHER)
    assert book.next_target([EXECUTOR, OTHER]) == EXECUTOR
    assert [row["executor"] for row in book.table()] == [EXECUTOR, OTHER]


def signed(validator: int, executor: int, score: int, issued_at: int) -> SignedScoreReport:
    report = ScoreReport(validator, executor, tested=3, correct=2, median_latency_ms=900,
                         score=score, issued_at=issued_at)
    return SignedScoreReport(report, (1, 2))  # signatures are the gossip validator's job


async def test_table_believes_trusted_validators_only_and_keeps_the_newest() -> None:
    asked: list[int] = []

    async def is_trusted(validator: int) -> bool:
        asked.append(validator)
        return validator != STRANGER

    table = ScoreTable(is_trusted)
    assert table.score(EXECUTOR) is None
    assert await table.add(signed(VALIDATOR, EXECUTOR, 6000, issued_at=10))
    assert not await table.add(signed(STRANGER, EXECUTOR, 0, issued_at=10))
    assert not await table.add(signed(STRANGER, EXECUTOR, 0, issued_at=11))
    assert table.untrusted == 2 and asked == [VALIDATOR, STRANGER]  # trust asked once each
    assert not await table.add(signed(VALIDATOR, EXECUTOR, 100, issued_at=9))  # older
    assert table.score(EXECUTOR) == 6000
    assert await table.add(signed(SECOND, EXECUTOR, 8000, issued_at=10))
    assert await table.add(signed(VALIDATOR, EXECUTOR, 7000, issued_at=12))
    assert table.score(EXECUTOR) == 7500  # the median of the trusted validators' latest
    untested = dataclasses.replace(signed(SECOND, OTHER, 2500, 10).report, tested=0, correct=0)
    assert await table.add(SignedScoreReport(untested, (1, 2)))
    assert table.score(OTHER) is None  # a validator that sent it nothing says nothing
