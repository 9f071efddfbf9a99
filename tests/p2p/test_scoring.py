"""Penalties decay, survive disconnects and drive the gossip gates."""

from __future__ import annotations

import dataclasses
import time

import pytest
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.id import ID
from libp2p.pubsub.score import PeerScorer

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


def test_score_with_only_the_ledger_weighing_equals_py_libp2p_sum_of_terms():
    ledger = PenaltyLedger(clock=lambda: 100.0)
    scorer = SpecScorer(score_params(ledger))
    topics = [params.TOPIC_JOBS, params.TOPIC_BIDS]
    peers = [new_peer() for _ in range(3)]
    for points, peer in zip((0, 7, 45), peers, strict=True):
        ledger.add(peer, points)
        scorer.on_join_mesh(peer, params.TOPIC_JOBS)
        scorer.on_first_delivery(peer, params.TOPIC_JOBS)
        scorer.penalize_behavior(peer, 3)  # weight 0 in our parameters: no effect either way
        scorer.add_peer_ip(peer, "127.0.0.1")
        assert scorer.score(peer, topics) == PeerScorer.score(scorer, peer, topics)
    assert [scorer.score(p, topics) < 0 for p in peers] == [False, True, True]


def test_score_sums_every_term_when_others_weigh():
    ledger = PenaltyLedger()
    weighted = dataclasses.replace(score_params(ledger), p5_behavior_penalty_weight=2.0)
    scorer = SpecScorer(weighted)
    peer = new_peer()
    scorer.penalize_behavior(peer, 3)
    assert scorer.score(peer, [params.TOPIC_JOBS]) == -6.0  # P5: (3 - threshold 0) x 2
