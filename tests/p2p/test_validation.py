"""Validator results and the drop log."""

from __future__ import annotations

import logging

from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.id import ID

from p2p.validation import DropLog, Outcome, Verdict, run_validator


def new_peer() -> ID:
    return ID.from_pubkey(create_new_key_pair().public_key)


def test_a_validator_that_raises_rejects_the_message():
    def broken(data: bytes, origin: ID) -> Verdict:
        raise KeyError("field")

    verdict = run_validator(broken, b"x", new_peer())
    assert verdict.outcome is Outcome.REJECT
    assert "KeyError" in verdict.reason


def test_a_validator_that_returns_no_verdict_rejects_the_message():
    verdict = run_validator(lambda data, origin: True, b"x", new_peer())  # type: ignore[arg-type]
    assert verdict.outcome is Outcome.REJECT


def test_drops_are_counted_by_reason_and_logged_once_per_peer(caplog):
    log = DropLog()
    noisy, other = new_peer(), new_peer()
    with caplog.at_level(logging.WARNING, logger="p2p.validation"):
        for _ in range(5):
            log.record(noisy, "/t", Verdict.reject("bad signature"))
        log.record(noisy, "/t", Verdict.ignore("late"))
        log.record(other, "/t", Verdict.reject("bad signature"))
    assert log.counts == {"bad signature": 6, "late": 1}
    assert log.total == 7
    assert len(caplog.records) == 2
    assert {r.peer for r in caplog.records} == {str(noisy), str(other)}
