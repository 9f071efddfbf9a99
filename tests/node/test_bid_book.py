"""The delegator's choice among bids: the cheapest, then the executor it saw paid most."""

from __future__ import annotations

from collections import Counter

from node.roles.delegator import BidBook
from p2p.messages import Bid, JobHeader, SignedBid

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
