"""The delegator's choice among bids: the cheapest, then the best scored, then the least busy,
then the one paid most."""

from __future__ import annotations

import dataclasses
from collections import Counter

from node.roles.delegator import BidBook
from node.roles.scores import ScoreTable
from p2p.messages import Bid, JobHeader, ScoreReport, SignedBid, SignedScoreReport

HEADER = JobHeader(chain_id=1, registry=2, delegator=3, body_id=b"\x01" * 32, program_hash=5,
                   max_steps=1000, reward=100, deadline=2_000_000_000, nonce=7)
JOB = 0xAB


def bid(executor: int, price: int, finish_by: int = 1_900_000_000, job: int = JOB) -> SignedBid:
    return SignedBid(Bid(job, executor, price, finish_by), (1, 2))


def test_the_cheapest_bid_wins_then_the_executor_paid_most_often() -> None:
    book = BidBook(HEADER, JOB)
    for signed in (bid(0xE1, 90), bid(0xE2, 80), bid(0xE3, 80)):
        book.add(signed)
    assert book.best(set(), Counter()).bid.executor == 0xE2  # first of the cheapest
    assert book.best(set(), Counter({0xE3: 2, 0xE2: 1})).bid.executor == 0xE3
    assert book.best({0xE2, 0xE3}, Counter()).bid.executor == 0xE1
    assert book.best({0xE1, 0xE2, 0xE3}, Counter()) is None


def test_among_equal_bids_the_executor_with_fewer_open_assignments_wins() -> None:
    book = BidBook(HEADER, JOB)
    for signed in (bid(0xE1, 80), bid(0xE2, 80), bid(0xE3, 70)):
        book.add(signed)
    paid = Counter({0xE1: 9})
    busy = Counter({0xE1: 2, 0xE2: 1, 0xE3: 5})
    assert book.best({0xE3}, paid, busy=busy).bid.executor == 0xE2  # less busy beats paid more
    assert book.best({0xE3}, paid, busy=Counter({0xE1: 1, 0xE2: 1})).bid.executor == 0xE1
    assert book.best(set(), paid, busy=busy).bid.executor == 0xE3  # the price comes first


def test_bids_that_break_the_terms_are_not_kept() -> None:
    book = BidBook(HEADER, JOB)
    book.add(bid(0xE1, 101))  # above the reward
    book.add(bid(0xE2, 50, finish_by=HEADER.deadline + 1))  # after the deadline
    book.add(bid(0xE3, 50, job=JOB + 1))  # another job
    assert book.by_executor == {} and not book.arrived.is_set()


def test_an_executors_latest_bid_replaces_its_earlier_one() -> None:
    book = BidBook(HEADER, JOB)
    book.add(bid(0xE1, 40))
    book.add(bid(0xE2, 60))
    book.add(bid(0xE1, 70))
    assert [b.bid.price for b in book.by_executor.values()] == [60, 70]
    assert book.best(set(), Counter()).bid.executor == 0xE2
    assert book.arrived.is_set()


async def test_validator_scores_rank_equal_prices_before_payments_seen() -> None:
    async def trusted(validator: int) -> bool:
        return True

    table = ScoreTable(trusted)
    report = ScoreReport(0xA1, 0xE3, tested=4, correct=4, median_latency_ms=1000, score=8000,
                         issued_at=1)
    await table.add(SignedScoreReport(report, (1, 2)))
    book = BidBook(HEADER, JOB)
    for signed in (bid(0xE1, 80), bid(0xE2, 80), bid(0xE3, 80), bid(0xE4, 70)):
        book.add(signed)
    paid = Counter({0xE2: 5})
    assert book.best(set(), paid, table).bid.executor == 0xE4  # price first
    assert book.best({0xE4}, paid, table).bid.executor == 0xE3  # then the score
    low = dataclasses.replace(report, score=1000, issued_at=2)
    await table.add(SignedScoreReport(low, (1, 2)))
    assert book.best({0xE4}, paid, table).bid.executor == 0xE2  # unscored beats a low score


def test_a_book_for_one_executor_keeps_its_bids_only() -> None:
    book = BidBook(HEADER, JOB, only=0xE2)
    book.add(bid(0xE1, 10))
    assert not book.arrived.is_set()
    book.add(bid(0xE2, 90))
    assert book.best(set(), Counter()).bid.executor == 0xE2
