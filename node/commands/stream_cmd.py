"""`node delegate PROGRAM --stream`: a streaming job, its requests from stdin, replies on stdout.

The job is published and assigned as any job (its body's input is `STREAM_INPUT`); once
assigned, the client opens the session with the executor and sends each stdin line, a JSON list
of felts, as one request. Each checked reply is one JSON line on stdout: `{"input", "output",
"time_from_ms", "time_to_ms", "verified": true}`. A line that is not a request, a request the
executor refuses and a reply the client rejects (forged, another job, clock skew beyond
`stream.skew_ms`) are reported on stderr and the session goes on. At the end of stdin the
session is closed; the command waits for the job to be paid and checks that the paid output is
the commitment to its own log.

Only bidders staking at least `stream.min_stake` in the Registry are assigned (the others are
skipped and told). With `stream.cross_check_rate` (`--cross-check RATE`) > 0 a second job of
the same program is delegated to another such executor, and that share of the requests is
sent to both sessions and compared (`node/cross_check.py`); a mismatch is proven and the liar
reported on chain (`node/disputes.py`). Without a second executor the session goes on
unchecked, and says so.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import trio

from cairo_jobs.streaming import STREAM_INPUT_BYTES
from node.config import Config
from node.cross_check import CrossCheck, Party
from node.disputes import Disputes
from node.errors import PartialResult, UserError
from node.roles.delegator import Choice, Delegator, JobSpec, Outcome, Progress
from node.roles.services import Services
from node.stream_client import Rejected, StreamClient, StreamJob, open_session
from p2p import params
from p2p.messages import JobBody
from p2p.signing import KnownPublicKeys
from p2p.stark import STARK_PRIME
from p2p.stream import StreamFailure, StreamRefused

SETTLE_TIME_S = 120.0
"""Time after a session's end for its settle run, the validator's fact and the payment."""

CHECKER_WAIT_S = 10.0
"""Seconds after its bid window a cross-check job waits for a second qualifying executor."""

Runner = Callable[[Callable[[], Awaitable[None]], dict[str, Any]], dict[str, Any]]


def delegate_stream(args: argparse.Namespace, config: Config, program: bytes, progress: Progress,
                    run: Runner) -> dict[str, Any]:
    """Run `node delegate --stream`; the outcome with `log_matches`, or PartialResult."""
    from node.registry_access import read_token
    from node.roles.services import open_services

    rate = cross_check_rate(config.stream.cross_check_rate)
    # The assignee keeps the job for the whole session and its settlement.
    delegator_settings = config.delegator
    delegator_settings.assignment_window = max(delegator_settings.assignment_window,
                                               config.stream.max_session + SETTLE_TIME_S)
    deadline = args.deadline if args.deadline is not None else delegator_settings.deadline
    started = time.monotonic()
    ended: dict[str, Any] = {}

    async def main() -> None:
        async with open_services(config, "delegator") as services, trio.open_nursery() as nursery:
            delegator = Delegator(services)
            await nursery.start(delegator.run)
            token = await services.chain(read_token, services.registry.account.client,
                                         services.registry.address)
            spec = JobSpec(program=program, program_input=STREAM_INPUT_BYTES, layout=args.layout,
                           reward=args.reward.base_units(token.decimals),
                           deadline=int(time.time() + deadline), max_steps=args.max_steps)
            progress("ready", {"peer_id": services.ready_info()["peer_id"]})
            streaming = Streaming(services, delegator, spec, progress, rate)
            ended.update(await streaming.run())
            nursery.cancel_scope.cancel()

    run(main, {})
    if "outcome" not in ended:
        raise UserError("interrupted before the job ended; see `node jobs` for its state")
    return _result(ended, time.monotonic() - started)


def cross_check_rate(value: float) -> float:
    """`stream.cross_check_rate` checked: a share of the requests, 0 (off) to 1 (all)."""
    if not 0.0 <= value <= 1.0:
        raise UserError(f"the cross-check rate {value} is not between 0 and 1: give the share "
                        "of requests to check, e.g. --cross-check 0.1 (0 turns it off)")
    return value


@dataclass
class Followed:
    """One job delegated in the background: the first event of each step, then its outcome."""

    delegator: Delegator
    spec: JobSpec
    progress: Progress
    choice: Choice
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    decided: trio.Event = field(default_factory=trio.Event)
    """Set once assigned or once the job ended."""
    outcome: Outcome | None = None
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)

    def track(self, step: str, details: dict[str, Any]) -> None:
        self.progress(step, details)
        self.steps.setdefault(step, details)
        if step == "assigned" and "executor" in details:
            self.decided.set()

    async def follow(self) -> None:
        with self.scope:
            self.outcome = await self.delegator.delegate(self.spec, self.track, wait=True,
                                                         choice=self.choice)
        self.decided.set()

    def job(self, chain_id: int) -> StreamJob | None:
        """The job and its assignee, once assigned (None before, or when it ended)."""
        if self.outcome is not None or "executor" not in self.steps.get("assigned", {}):
            return None
        return StreamJob(int(self.steps["published"]["job"], 16),
                         int(self.steps["assigned"]["executor"], 16), chain_id)


class Streaming:
    """A streaming job from publication to payment, cross-checked with a second executor when
    `rate` > 0."""

    def __init__(self, services: Services, delegator: Delegator, spec: JobSpec,
                 progress: Progress, rate: float) -> None:
        self.services = services
        self.delegator = delegator
        self.spec = spec
        self.progress = progress
        self.rate = rate
        self.choice = Choice(min_stake=services.config.stream.min_stake)
        self.cross_check: CrossCheck | None = None
        self.resources = AsyncExitStack()
        """What lives until the end of `run`: the Cairo worker of the disputes."""
        self.off: str | None = None
        """Why the requests went unchecked, when cross-checking was asked for."""

    async def run(self) -> dict[str, Any]:
        """Delegate, hold the session(s), wait for the payment(s): what `_result` shows."""
        primary = Followed(self.delegator, self.spec, self.progress, self.choice)
        ended: dict[str, Any] = {}
        async with AsyncExitStack() as self.resources, trio.open_nursery() as nursery:
            nursery.start_soon(primary.follow)
            while not (job := primary.job(self.services.network.chain_id)):
                if primary.outcome is not None:
                    break
                primary.decided = trio.Event()
                await primary.decided.wait()
            if job is not None:
                ended["expected"] = await self._session(job, nursery)
        if primary.outcome is not None:
            ended["outcome"] = primary.outcome
        if self.rate:
            ended["cross_check"] = (self.cross_check.summary() if self.cross_check
                                    else {"rate": self.rate, "off": self.off})
        return ended

    async def _checker(self, stack: AsyncExitStack, nursery: trio.Nursery,
                       primary: StreamJob) -> Party | None:
        """The second executor's session, or None (told why) when there is none."""
        choice = Choice(frozenset({primary.executor}), self.choice.min_stake)
        checker = Followed(self.delegator, self.spec, _prefixed(self.progress), choice)
        nursery.start_soon(checker.follow)
        with trio.move_on_after(self.services.config.delegator.bid_window + CHECKER_WAIT_S):
            while (job := checker.job(self.services.network.chain_id)) is None:
                # `no_qualified_bid` only says the bids so far stake too little: a staked
                # executor's bid may still come after them (a busy machine), so wait on.
                if checker.outcome is not None:
                    break
                checker.decided = trio.Event()
                await checker.decided.wait()
        if job is None:
            self._give_up(checker, "no second executor with enough stake bid for the job")
            return None
        try:
            client = await stack.enter_async_context(self._open(job))
        except (Rejected, StreamRefused, StreamFailure) as error:
            self.off = f"the second executor's session did not open: {error}"
            self.progress("cross_check_off", {"reason": self.off})
            return None
        self.progress("cross_check_session", {"executor": hex(job.executor),
                                              "session_key": hex(client.session.session_key)})
        return Party(self.services.headers[job.job_hash], client)

    def _give_up(self, checker: Followed, reason: str) -> None:
        checker.scope.cancel()
        self.off = reason
        if "published" in checker.steps and checker.outcome is None:
            self.services.transition(int(checker.steps["published"]["job"], 16), "failed",
                                     "cross-check off: " + reason)
        self.progress("cross_check_off", {"reason": reason + "; the session goes on unchecked"})

    @asynccontextmanager
    async def _open(self, job: StreamJob) -> AsyncIterator[StreamClient]:
        """The job's session with its assignee (Rejected, StreamRefused, StreamFailure)."""
        services = self.services
        peer = self.delegator.bidder_peers.get(job.executor)
        public_key = await services.keys.ensure(job.executor)
        if peer is None or public_key is None:
            raise StreamFailure("the assigned executor's peer or key is unknown")
        settings = services.config.stream
        async with open_session(services.p2p.host, peer, job,
                                KnownPublicKeys({job.executor: public_key}),
                                skew_ms=settings.skew_ms,
                                request_timeout=settings.request_timeout) as client:
            yield client

    async def _session(self, job: StreamJob, nursery: trio.Nursery) -> list[int] | None:
        """Stream stdin's requests to the executor; the expected paid output (None: no
        session). The session opens first, so the search for a second executor does not
        count against the executor's idle timeout."""
        try:
            async with self._open(job) as client, AsyncExitStack() as stack:
                self.progress("session", {"executor": hex(job.executor),
                                          "session_key": hex(client.session.session_key),
                                          "expires_at": client.session.expires_at})
                checker = await self._checker(stack, nursery, job) if self.rate else None
                if checker is not None:
                    self.cross_check = await self._cross_check(client, checker, nursery)
                await _send_stdin(client, self.progress, self.cross_check)
        except (Rejected, StreamRefused, StreamFailure) as error:
            self.progress("session_failed", {"error": str(error)})
            return None
        self.progress("closed", {"requests": len(client.log)})
        return client.expected_output()

    async def _cross_check(self, client: StreamClient, checker: Party,
                           nursery: trio.Nursery) -> CrossCheck:
        from cairo_jobs.native.backend import NativeConfig, NativeProver
        from cairo_jobs.pool import RunnerPool

        services = self.services
        pool = await self.resources.enter_async_context(RunnerPool(1))
        header = services.headers[client.job.job_hash]
        body = JobBody(self.spec.program, self.spec.program_input, self.spec.layout)
        disputes = Disputes(services, pool, NativeProver(NativeConfig()), body,
                            header.header.program_hash)
        primary = Party(header, client)
        return CrossCheck(primary, checker, self.rate, disputes, self.progress, nursery)


async def _send_stdin(client: StreamClient, progress: Progress,
                      cross_check: CrossCheck | None) -> None:
    number = 0
    while line := await trio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True):
        number += 1
        if not line.strip():
            continue
        try:
            felts = parse_request(line)
        except ValueError as error:
            progress("bad_request", {"line": number, "error": str(error)})
            continue
        try:
            reply = await client.request(felts)
        except (Rejected, StreamRefused) as error:
            step = "rejected" if isinstance(error, Rejected) else "refused"
            progress(step, {"line": number, "error": str(error)})
            continue
        print(json.dumps({"input": list(reply.input), "output": list(reply.output),
                          "time_from_ms": reply.time_from_ms, "time_to_ms": reply.time_to_ms,
                          "verified": True}), flush=True)
        if cross_check is not None:
            await cross_check.compare(reply)


def parse_request(line: str) -> list[int]:
    """One stdin line as request felts: a JSON list of integers in [0, STARK_PRIME)."""
    try:
        value = json.loads(line)
    except ValueError as error:
        raise ValueError(f"not JSON ({error}); send a JSON list of felts, e.g. [1, 2, 3]") from None
    if not isinstance(value, list) or not all(
        isinstance(x, int) and not isinstance(x, bool) and 0 <= x < STARK_PRIME for x in value
    ):
        raise ValueError("a request is a JSON list of integers in [0, STARK_PRIME)")
    if len(value) > params.MAX_STREAM_REQUEST_FELTS:
        raise ValueError(f"a request holds at most {params.MAX_STREAM_REQUEST_FELTS} felts")
    return value


def _prefixed(progress: Progress) -> Progress:
    """The second (checker) job's progress: its steps prefixed with `checker_`."""
    return lambda step, details: progress(f"checker_{step}", details)


def _result(ended: dict[str, Any], seconds: float) -> dict[str, Any]:
    outcome: Outcome = ended["outcome"]
    expected: list[int] | None = ended.get("expected")
    described: dict[str, Any] = {"job": hex(outcome.job_hash), "state": outcome.state,
                                 "seconds": round(seconds, 2)}
    if "cross_check" in ended:
        described["cross_check"] = ended["cross_check"]
    if outcome.payment is None:
        raise PartialResult("the streaming job expired: no executor settled it before its "
                            "deadline; the reward stays in your escrow", described)
    payment = outcome.payment
    described.update(output=[hex(felt) for felt in payment.output],
                     executor=hex(payment.executor), reward=payment.reward,
                     transaction=hex(payment.transaction_hash),
                     log_matches=list(payment.output) == expected)
    if expected is None:
        raise PartialResult("the job was paid but no session was held with its executor; "
                            "see the session_failed line above", described)
    if not described["log_matches"]:
        raise PartialResult("the paid output is not the commitment to this client's request "
                            "log: the executor settled other requests than it answered here",
                            described)
    return described
