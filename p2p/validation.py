"""Pluggable message checks: a topic validator turns (bytes, sender) into a Verdict.

The caller supplies one validator per gossip topic (the job-header decoder, the bid decoder, ...).
A Reject lowers the forwarding peer's score; an Ignore drops the message without blame
(e.g. a late bid), as in the gossipsub v1.1 spec.
"""

from __future__ import annotations

import enum
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from libp2p.peer.id import ID

logger = logging.getLogger(__name__)


class Outcome(enum.Enum):
    """What to do with a message."""

    ACCEPT = "accept"
    REJECT = "reject"
    IGNORE = "ignore"


@dataclass(frozen=True)
class Verdict:
    """A validator's decision; `reason` says why a message was rejected or ignored.

    `expires_at` (Unix time), when set on an accepted message, is when it stops being worth
    sending: a copy still queued for a peer then is dropped, not handed out late.
    """

    outcome: Outcome
    reason: str = ""
    expires_at: float | None = None

    @classmethod
    def accept(cls, expires_at: float | None = None) -> Verdict:
        """The message is valid: deliver and forward it (until `expires_at`, if given)."""
        return cls(Outcome.ACCEPT, expires_at=expires_at)

    @classmethod
    def reject(cls, reason: str) -> Verdict:
        """The message is invalid: drop it and penalise the peer that sent it."""
        return cls(Outcome.REJECT, reason)

    @classmethod
    def ignore(cls, reason: str) -> Verdict:
        """The message is not wanted (late, duplicate, ...): drop it without penalty."""
        return cls(Outcome.IGNORE, reason)


TopicValidator = Callable[[bytes, ID], Verdict]
"""Checks one gossip payload; the ID is the message's originator (its pubsub signer)."""


def run_validator(validator: TopicValidator, data: bytes, origin: ID) -> Verdict:
    """Call `validator`; an exception in it or a non-Verdict result counts as a Reject."""
    try:
        verdict = validator(data, origin)
    except Exception as exc:
        return Verdict.reject(f"validator raised {type(exc).__name__}: {exc}")
    if not isinstance(verdict, Verdict):
        return Verdict.reject(f"validator returned {type(verdict).__name__}, not a Verdict")
    return verdict


@dataclass
class DropLog:
    """Counts dropped messages by reason and logs each peer's first drop of each outcome once.

    A rejected message (a bad one: the sender is penalised) is a warning; an ignored one (not
    judged yet, e.g. its signer's key is still being looked up) is only news, logged at info.
    """

    counts: Counter[str] = field(default_factory=Counter)
    max_remembered_peers: int = 10_000
    _logged: set[tuple[ID, Outcome]] = field(default_factory=set)

    def record(self, peer: ID, topic: str, verdict: Verdict) -> None:
        """Count one dropped message; log it if this peer had no drop of its outcome logged."""
        self.counts[verdict.reason] += 1
        if (peer, verdict.outcome) in self._logged:
            return
        if len(self._logged) >= self.max_remembered_peers:
            self._logged.clear()
        self._logged.add((peer, verdict.outcome))
        level = logging.WARNING if verdict.outcome is Outcome.REJECT else logging.INFO
        logger.log(
            level,
            "gossip message dropped (further drops from this peer are only counted)",
            extra={
                "peer": str(peer),
                "topic": topic,
                "outcome": verdict.outcome.value,
                "reason": verdict.reason,
            },
        )

    @property
    def total(self) -> int:
        """Messages dropped so far."""
        return sum(self.counts.values())
