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


def test_drops_are_counted_by_reason_and_logged_once_per_peer_and_outcome(caplog):
    log = DropLog()
    noisy, other = new_peer(), new_peer()
    with caplog.at_level(logging.INFO, logger="p2p.validation"):
        for _ in range(5):
            log.record(noisy, "/t", Verdict.reject("bad signature"))
        for _ in range(3):
            log.record(noisy, "/t", Verdict.ignore("late"))
        log.record(other, "/t", Verdict.reject("bad signature"))
    assert log.counts == {"bad signature": 6, "late": 3}
    assert log.total == 9
    logged = sorted((r.peer, r.outcome, r.levelname) for r in caplog.records)
    assert logged == sorted([
        (str(noisy), "reject", "WARNING"),
        (str(noisy), "ignore", "INFO"),
        (str(other), "reject", "WARNING"),
    ])


def test_an_ignored_message_is_no_warning(caplog):
    """A message not judged yet (signer's key still being looked up) is normal, not a fault."""
    with caplog.at_level(logging.WARNING, logger="p2p.validation"):
        DropLog().record(new_peer(), "/t", Verdict.ignore("signer's public key not known"))
    assert caplog.records == []
