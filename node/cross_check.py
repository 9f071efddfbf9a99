"""Cross-validation of a streaming session: a sample of its requests also goes to a second
executor's session of the same program, and the two answers are compared.

Each checked reply of the client's session is sent again, with probability `rate`, to the
checker's session. Equal outputs: nothing to do. Different outputs: the request is disputed in
the background (`node/disputes.py`: the client proves the truth and reports whoever lied) while
the session goes on. A checker reply the client rejects (bad signature, skew) is not evidence
and is only told; a checker session that breaks turns the cross-check off.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import trio
from starknet_py.net.client_errors import ClientError

from cairo_jobs.failures import RunFailure
from node.chain import ChainError
from node.disputes import DisputeFailed, Disputes, Reported, Side
from node.roles.delegator import Progress
from node.roles.witnesses import FactMissing
from node.stream_client import Rejected, Reply, StreamClient
from p2p.messages import SignedJobHeader
from p2p.stream import StreamFailure, StreamRefused
from registry_contract.client import Refused


@dataclass(frozen=True)
class Party:
    """An open session and the signed header of its job."""

    header: SignedJobHeader
    client: StreamClient

    def side(self, reply: Reply) -> Side:
        return Side(self.header, self.client.signed_session, reply)


@dataclass
class CrossCheck:
    """Compares a sample of `primary`'s replies with `checker`'s answers to the same requests."""

    primary: Party
    checker: Party
    rate: float
    disputes: Disputes
    progress: Progress
    nursery: trio.Nursery
    """Where disputes run (it must outlive the sessions: reports come after)."""
    draw: Callable[[], float] = random.random
    checked: int = 0
    mismatches: int = 0
    reported: list[Reported] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    off: str | None = None
    """Why the cross-check stopped, if it did."""

    async def compare(self, reply: Reply) -> None:
        """Send `reply`'s request to the checker too (if sampled) and dispute a mismatch."""
        if self.off is not None or self.draw() >= self.rate:
            return
        try:
            other = await self.checker.client.request(reply.input)
        except (Rejected, StreamRefused) as error:
            self.progress("cross_check_skipped", {"input": list(reply.input),
                                                  "error": str(error)})
            return
        except StreamFailure as error:
            self.stop(f"the second executor's session broke: {error}")
            return
        self.checked += 1
        if other.output == reply.output:
            return
        self.mismatches += 1
        self.progress("mismatch", {"input": list(reply.input), "output": list(reply.output),
                                   "checker_output": list(other.output)})
        self.nursery.start_soon(self._dispute, reply, other)

    def stop(self, reason: str) -> None:
        """No more checks; say why."""
        self.off = reason
        self.progress("cross_check_off", {"reason": reason})

    async def _dispute(self, reply: Reply, other: Reply) -> None:
        header = self.primary.header.header
        sides = [self.primary.side(reply), self.checker.side(other)]
        try:
            reported = await self.disputes.settle(reply.input, sides, header.max_steps,
                                                  header.deadline)
        except (DisputeFailed, FactMissing, RunFailure, ChainError, Refused, ClientError,
                trio.TooSlowError) as error:
            self.failures.append(str(error))
            self.progress("dispute_failed", {"input": list(reply.input), "error": str(error)})
            return
        for done in reported:
            self.reported.append(done)
            self.progress("cheat_reported", described(done))

    def summary(self) -> dict[str, Any]:
        """What the cross-check did, for the command's outcome."""
        return {"rate": self.rate, "executor": hex(self.checker.client.job.executor),
                "job": hex(self.checker.client.job.job_hash), "checked": self.checked,
                "mismatches": self.mismatches,
                "cheaters": [described(done) for done in self.reported],
                "failures": self.failures, "off": self.off}


def described(reported: Reported) -> dict[str, Any]:
    """A cheat report accepted by the Registry, as the command shows it."""
    return {"executor": hex(reported.executor), "transaction": hex(reported.transaction),
            "slashed": reported.slashed}
