"""Penalties decay, survive disconnects and drive the gossip gates."""

from __future__ import annotations

import time

import pytest
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.id import ID

from p2p import params
from p2p.scoring import PenaltyLedger, SpecScorer, score_params


def new_peer() -> ID:
    return ID.from_pubkey(create_new_key_pair().public_key)


def test_penalty_decays_with_time():
    ledger = PenaltyLedger(decay_per_second=0.01)
    peer = new_peer()
    ledger.add(peer, 40)
    time.sleep(0.1)  # 0.01 ** 0.1 = 0.63
    assert 0 < ledger.penalty(peer) < 40 * 0.8
    before = ledger.penalty(peer)
    ledger.add(peer, 5)
    assert ledger.penalty(peer) == pytest.approx(before + 5, rel=0.05)


def test_ledger_forgets_the_mildest_peer_when_full():
    ledger = PenaltyLedger(max_peers=2)
    mild, bad, worse = new_peer(), new_peer(), new_peer()
    ledger.add(mild, 1)
    ledger.add(bad, 50)
    ledger.add(worse, 100)
    assert ledger.penalty(mild) == 0
    assert ledger.penalty(bad) > 0 and ledger.penalty(worse) > 0


def test_penalty_survives_the_peer_being_removed_from_the_scorer():
    ledger = PenaltyLedger()
    scorer = SpecScorer(score_params(ledger))
    peer = new_peer()
    topics = [params.TOPIC_JOBS]
    assert scorer.allow_publish(peer, topics)
    ledger.add(peer, 3 * params.INVALID_MESSAGE_PENALTY)
    assert not scorer.allow_publish(peer, topics)
    assert not scorer.allow_gossip(peer, topics)
    scorer.remove_peer(peer)  # what py-libp2p does on disconnect
    assert not scorer.allow_publish(peer, topics)
    ledger.add(peer, params.GARBAGE_STREAM_PENALTY)
    assert scorer.is_graylisted(peer, topics)
