"""The delegator (`node delegate`): publish a job, assign it, see it paid.

Publish: check the escrow covers the reward, put the body in the DHT, sign the header and
re-publish it while the job is open. Assign: collect bids for `delegator.bid_window` seconds,
pick the best (lowest price, then the best score published by the FactRegistry's verifiers,
then the executor holding the fewest of this delegator's open assignments, so that jobs
delegated at once spread over the executors, then the executor that this delegator saw paid
most often; a `Choice` may leave executors out
and ask for a minimum Registry stake, as streaming jobs do), sign an
assignment with an exclusivity window and re-publish it. Watch: read the Registry's
JobCompleted events each time the chain moves on (one reader for all of this node's open jobs);
if the window passes without payment, assign the next best bid. The job
ends paid (with the output, the executor and the transaction), or expired once its deadline has
passed: the reward then stays in the escrow. A job with output volumes is paid on its output's
digest: the delegator then fetches the paid executor's witness and its output volumes, and
keeps them only if each has its sha256 and their joined sections the digest the Registry paid.
Resume: a job an earlier run left open is taken up again from what the store kept (`resume`):
the same signed header and body, its windows, its attempts and the assignment it was under.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import trio
from libp2p.peer.id import ID
from starknet_py.net.client_errors import ClientError

from cairo_jobs.program import load_program, program_hash
from node.chain import ChainError
from node.errors import UserError
from node.roles.gossip import drain_unread, republish, subscribe_all
from node.roles.left_jobs import settle_left_jobs
from node.roles.payments import Payment, read_payments, record_payment
from node.roles.scores import ScoreTable
from node.roles.services import Services
from node.roles.volumes import (
    OutputVolume,
    VolumeError,
    checked_output_volumes,
    offer_volumes,
    program_input_with,
    volume_refs,
)
from node.store import KeptDelegation, StoredJob
from p2p import params
from p2p.codec import CodecError
from p2p.content import NotFound
from p2p.gossip import GossipMessage
from p2p.messages import (
    Assignment,
    JobBody,
    JobHeader,
    JobWitness,
    SignedAssignment,
    SignedBid,
    SignedJobHeader,
    SignedScoreReport,
    SignedWitnessNotice,
)
from p2p.records import digest_key
from p2p.signing import job_hash, sign_assignment, sign_header
from registry_contract.events import EventCursor

log = logging.getLogger(__name__)

IDLE_CHECK_S = 1.0
"""How often a job waiting for a bid checks whether it was paid meanwhile."""

DEADLINE_GRACE_S = 15.0
"""How long past the deadline the delegator still looks for the payment (block times lag)."""

NEW_EXECUTOR_SCORE = 2_500
"""The score of an executor no trusted validator has scored (a new one's, see scores.py)."""

WINDOW_GRACE_S = 2.0
"""How long past an assignment's window the delegator waits before re-assigning."""

Progress = Callable[[str, dict[str, Any]], None]
"""Told of each step: the job's new state (or `bid`) and its details."""


@dataclass(frozen=True)
class JobSpec:
    """What to delegate: a compiled Cairo program, its input and the terms."""

    program: bytes
    program_input: bytes
    layout: str
    reward: int
    deadline: int
    """Unix time after which the job may no longer be paid."""
    max_steps: int
    volumes: Mapping[str, bytes] = field(default_factory=dict)
    """Input volumes: name -> UTF-8 JSON bytes, given to the program as program_input[name]."""
    output_volumes: tuple[str, ...] = ()
    """Output volume names: the program writes one length-prefixed section per name, in order."""


@dataclass(frozen=True)
class Outcome:
    """How a delegated job ended."""

    job_hash: int
    state: str
    """`paid`, `expired`, or `assigned` when not waiting for the payment."""
    attempts: int
    payment: Payment | None = None
    volumes: tuple[OutputVolume, ...] = ()
    """The paid job's output volumes, fetched and checked (when the job declared some)."""
    volumes_problem: str = ""
    """Why the output volumes of a paid job could not be had (empty when they were)."""


@dataclass(frozen=True)
class Choice:
    """Which bidders may be assigned: none of `excluded`, and only those whose Registry stake
    is at least `min_stake` (0: any)."""

    excluded: frozenset[int] = frozenset()
    min_stake: int = 0


@dataclass
class BidBook:
    """The valid bids received for one job, the latest per executor, in arrival order."""

    header: JobHeader
    key: int
    only: int | None = None
    """When set, the one executor whose bids count (a validator's synthetic job)."""
    by_executor: dict[int, SignedBid] = field(default_factory=dict)
    arrived: trio.Event = field(default_factory=trio.Event)

    def add(self, signed: SignedBid) -> bool:
        """Keep the bid if it meets the job's terms; True if it is this executor's first."""
        bid = signed.bid
        if bid.job_hash != self.key or bid.price > self.header.reward:
            return False
        if self.only is not None and bid.executor != self.only:
            return False
        if bid.finish_by > self.header.deadline:
            return False
        first = self.by_executor.pop(bid.executor, None) is None
        self.by_executor[bid.executor] = signed
        self.arrived.set()
        return first

    def best(
        self, excluded: set[int], paid: Counter[int], scores: ScoreTable | None = None,
        busy: Counter[int] | None = None,
    ) -> SignedBid | None:
        """The lowest price; among equal prices the best validator score (an executor no
        trusted validator scored counts as a new one), then the executor with the fewest jobs
        in hand (`busy`: open assignments), then the executor paid most."""
        candidates = [b for e, b in self.by_executor.items() if e not in excluded]
        if not candidates:
            return None
        busy = busy if busy is not None else Counter()

        def rank(signed: SignedBid) -> tuple[int, int, int, int]:
            executor = signed.bid.executor
            score = scores.score(executor) if scores is not None else None
            return (signed.bid.price, -(NEW_EXECUTOR_SCORE if score is None else score),
                    busy[executor], -paid[executor])

        return min(candidates, key=rank)


class Delegator:
    """A delegator node: one subscription to the bids topic, each bid routed to its open job;
    one reader of the Registry's events, each payment routed to its open job; the jobs an
earlier run left open are settled meanwhile (`left_jobs`).

    Start `run` in a nursery (`await nursery.start(delegator.run)`), then
    `outcome = await delegator.delegate(spec, progress)`, for as many jobs at once as needed.
    """

    def __init__(self, services: Services) -> None:
        self.services = services
        self.taken_up: set[int] = set()
        """Jobs left open that this run takes up again (`resume`) rather than only settles;
        set them before `run` starts."""
        self.open: dict[int, tuple[BidBook, Progress]] = {}
        """The jobs collecting bids: job hash -> (its bids, its progress callback)."""
        self.bidders: dict[int, float] = {}
        """Every executor seen bidding (for any job) -> when it last did (Unix time)."""
        self.scores = ScoreTable(self._is_validator)
        """Executor scores published by the FactRegistry's verifiers."""
        self.bidder_peers: dict[int, ID] = {}
        """The peer each executor's latest bid came from (where a streaming client connects)."""
        self.unpaid: dict[int, Callable[[Payment], None]] = {}
        """The jobs awaiting their payment: job hash -> what to tell when it is seen."""
        self.announced: dict[int, trio.Event] = {}
        """Open jobs -> set once an executor announced the job's witness (`/zetina/1/done`)."""
        self.witnesses: dict[int, dict[int, tuple[bytes, ID]]] = {}
        """Open jobs -> executor -> (its announced witness id, the peer that announced it)."""
        self.assigned: Counter[int] = Counter()
        """Executor -> this delegator's jobs assigned to it whose window is held (not yet paid
        or missed): among equal bids the least busy executor is chosen."""
        self._job_added = trio.Event()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        services = self.services
        channels = await subscribe_all(services.p2p.gossip)
        client = services.registry.account.client
        cursor = EventCursor(await services.chain(client.get_block_number))
        left = [job for job in services.store.unfinished("delegator")  # before this run's own
                if job.job_hash not in self.taken_up]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(settle_left_jobs, services, left, DEADLINE_GRACE_S)
            nursery.start_soon(drain_unread, channels,
                               {params.TOPIC_BIDS, params.TOPIC_SCORES, params.TOPIC_DONE})
            nursery.start_soon(self._read_scores, channels[params.TOPIC_SCORES])
            nursery.start_soon(self._read_notices, channels[params.TOPIC_DONE])
            nursery.start_soon(self._watch_payments, cursor)
            task_status.started()
            async for message in channels[params.TOPIC_BIDS]:
                signed = SignedBid.decode(message.data)  # the gossip validator accepted it
                self.bidders[signed.bid.executor] = time.time()
                self.bidder_peers[signed.bid.executor] = message.origin
                job = self.open.get(signed.bid.job_hash)
                if job is not None and job[0].add(signed):
                    job[1]("bid", {"executor": hex(signed.bid.executor),
                                   "price": signed.bid.price})

    async def delegate(
        self, spec: JobSpec, progress: Progress, *, wait: bool = True, only: int | None = None,
        choice: Choice = Choice(),
    ) -> Outcome:
        """Publish one job and follow it to its end (or to its assignment if not `wait`).

        `only`: assign it to this executor alone (a synthetic job meant for it, `node delegate
        --executor`); `choice`: the executors left out and the stake required (streaming jobs).
        """
        return await Delegation(self, spec, progress, wait=wait, only=only, choice=choice).run()

    async def resume(
        self, job: StoredJob, kept: KeptDelegation, progress: Progress, *, wait: bool = True
    ) -> Outcome:
        """Take up again a job an earlier run left open (not paid, deadline not passed): offer
        its body, re-publish its header, collect bids, assign and re-assign as `delegate`."""
        body = JobBody.decode(kept.body)
        header = job.signed_header.header
        spec = JobSpec(program=body.program, program_input=body.program_input,
                       layout=body.layout, reward=header.reward, deadline=header.deadline,
                       max_steps=header.max_steps, volumes=kept.volumes,
                       output_volumes=body.output_volumes)
        delegation = Delegation(self, spec, progress, wait=wait, only=kept.only_executor,
                                kept=kept)
        return await delegation.resume(job)

    async def _read_scores(self, channel: trio.MemoryReceiveChannel[GossipMessage]) -> None:
        async for message in channel:
            try:
                await self.scores.add(SignedScoreReport.decode(message.data))
            except (ChainError, ClientError) as error:
                log.warning("cannot check a score's validator", extra={"error": str(error)})

    async def _read_notices(self, channel: trio.MemoryReceiveChannel[GossipMessage]) -> None:
        async for message in channel:
            notice = SignedWitnessNotice.decode(message.data).notice  # the validator accepted it
            announced = self.announced.get(notice.job_hash)
            if announced is not None:
                announced.set()
                witnesses = self.witnesses.setdefault(notice.job_hash, {})
                witnesses[notice.executor] = (notice.witness_id, message.origin)

    async def _is_validator(self, account: int) -> bool:
        return bool(await self.services.chain(self.services.facts.is_verifier, account))

    def expect_payment(self, key: int, paid: Callable[[Payment], None]) -> None:
        """Call `paid` when the job's JobCompleted is seen (from the events after `run` began)."""
        self.unpaid[key] = paid
        self._job_added.set()

    async def _watch_payments(self, cursor: EventCursor) -> None:
        """While jobs await payment, read the new events each time a block is added."""
        blocks = self.services.blocks
        seen = blocks.number
        while True:
            while not self.unpaid:
                self._job_added = trio.Event()
                await self._job_added.wait()
            cursor = await self._deliver_payments(cursor)
            seen = await blocks.wait_past(seen)

    async def _deliver_payments(self, cursor: EventCursor) -> EventCursor:
        """Read every event page from `cursor`; return the cursor after the last one read."""
        while True:
            try:
                payments, after = await read_payments(self.services, cursor)
            except (ChainError, ClientError, OSError) as error:  # OSError: connection lost
                log.warning("cannot read Registry events; retrying", extra={"error": str(error)})
                return cursor
            for payment in payments:
                paid = self.unpaid.pop(payment.job_hash, None)
                if paid is not None:
                    paid(payment)
            if after == cursor or after.continuation_token is None:
                return after
            cursor = after


class Delegation:
    """One job from publication to payment or expiry."""

    def __init__(
        self, delegator: Delegator, spec: JobSpec, progress: Progress, *, wait: bool = True,
        only: int | None = None, choice: Choice = Choice(), kept: KeptDelegation | None = None,
    ) -> None:
        self.delegator = delegator
        self.only = only
        self.choice = choice
        self.services = delegator.services
        self.spec = spec
        self.progress = progress
        self.wait = wait
        self._paid = trio.Event()
        self._announced = trio.Event()
        self._payment: Payment | None = None
        settings = self.services.config.delegator
        self.kept = kept
        """The body and windows the job is delegated with (made by `run` for a new job)."""
        self.bid_window = settings.bid_window if kept is None else kept.bid_window
        self.assignment_window = (settings.assignment_window if kept is None
                                  else kept.assignment_window)

    async def run(self) -> Outcome:
        """Delegate a new job: check the escrow, offer the body, sign and record the header."""
        await self._check_escrow()
        body = await self._make_body()
        self.kept = KeptDelegation(body.encode(), dict(self.spec.volumes), self.bid_window,
                                   self.assignment_window, self.only)
        self._offer(self.kept)
        signed = await self._sign(body)
        self.services.store.record_job(signed, "delegator", self.kept)
        self.progress("published", {"job": hex(job_hash(signed.header)),
                                    "reward": self.spec.reward})
        return await self._follow(signed, None)

    async def resume(self, job: StoredJob) -> Outcome:
        """Delegate `job` again from where an earlier run left it."""
        assert self.kept is not None
        self._offer(self.kept)
        self.progress("resumed", {"job": hex(job.job_hash), "state": job.state,
                                  "attempts": job.attempt, "reward": self.spec.reward})
        return await self._follow(job.signed_header, job)

    async def _follow(self, signed: SignedJobHeader, resumed: StoredJob | None) -> Outcome:
        """Publish the recorded job's header and assign it until it is paid or expired."""
        services = self.services
        key = job_hash(signed.header)
        bids = BidBook(signed.header, key, only=self.only)
        services.headers[key] = signed
        self.delegator.open[key] = (bids, self.progress)
        self.delegator.expect_payment(key, self._on_payment)
        self.delegator.announced[key] = self._announced
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(republish, services, params.TOPIC_JOBS, signed.encode(),
                                   self._paid, signed.header.deadline)
                if services.store.get(key).state == "published":
                    self._moved(key, "bidding", "header published")
                outcome = await self._assign_until_done(bids, resumed)
                nursery.cancel_scope.cancel()
            if outcome.payment is not None and self.spec.output_volumes:
                outcome = await self._with_output_volumes(outcome, outcome.payment)
        finally:
            del self.delegator.open[key]
            self.delegator.unpaid.pop(key, None)
            self.delegator.announced.pop(key, None)
            self.delegator.witnesses.pop(key, None)
        return outcome

    async def _check_escrow(self) -> None:
        services, address = self.services, self.services.wallet.address
        if await services.view.covers(address, self.spec.reward):
            return
        available = await services.view.available_balance(address)
        if available < self.spec.reward:
            raise UserError(
                f"the escrow holds {available} available, less than the reward {self.spec.reward}:"
                " deposit more with `node deposit AMOUNT`"
            )

    async def _make_body(self) -> JobBody:
        spec = self.spec
        try:
            body = JobBody(program=spec.program, program_input=spec.program_input,
                           layout=spec.layout, input_volumes=volume_refs(spec.volumes),
                           output_volumes=spec.output_volumes)
            program_input_with(body, {name: None for name in spec.volumes})  # no name clash
        except (VolumeError, CodecError) as error:
            raise UserError(f"cannot make the job body: {error}") from None
        return body

    def _offer(self, kept: KeptDelegation) -> None:
        """Serve the body and its input volumes from this node (executors ask us first)."""
        offer_volumes(self.services.p2p.content, kept.volumes)
        self.services.p2p.content.offer(params.NS_BODY, kept.body)

    async def _sign(self, body: JobBody) -> SignedJobHeader:
        services, spec = self.services, self.spec
        program = await trio.to_thread.run_sync(load_program, spec.program.decode())
        header = JobHeader(
            chain_id=services.network.chain_id, registry=services.network.registry,
            delegator=services.wallet.address, body_id=body.body_id,
            program_hash=program_hash(program), max_steps=spec.max_steps, reward=spec.reward,
            deadline=spec.deadline, nonce=secrets.randbits(64),
        )
        return sign_header(header, services.wallet.key)

    async def _with_output_volumes(self, outcome: Outcome, payment: Payment) -> Outcome:
        """The outcome with the paid executor's output volumes, or with why they are missing."""
        try:
            volumes = await self._fetch_output_volumes(payment)
        except (VolumeError, NotFound, CodecError, trio.TooSlowError) as error:
            problem = str(error) or type(error).__name__
            log.warning("output volumes not had", extra={"job": hex(payment.job_hash),
                                                         "reason": problem})
            self.progress("volumes_missing", {"reason": problem})
            return replace(outcome, volumes_problem=problem)
        self.progress("volumes", {"names": [volume.name for volume in volumes]})
        return replace(outcome, volumes=tuple(volumes))

    async def _fetch_output_volumes(self, payment: Payment) -> list[OutputVolume]:
        """The output volumes of the paid executor's witness, checked against the paid digest."""
        announced = self.delegator.witnesses.get(payment.job_hash, {}).get(payment.executor)
        if announced is None:
            raise VolumeError("the paid executor never announced its witness: its output "
                              "volumes are unknown")
        witness_id, origin = announced
        content = self.services.p2p.content
        with trio.fail_after(params.FETCH_TIMEOUT + params.DHT_GET_TIMEOUT):
            data = await content.get(digest_key(params.NS_WITNESS, witness_id), origin)
        witness = JobWitness.decode(data)
        return await checked_output_volumes(content, witness.output_volumes,
                                            self.spec.output_volumes, payment.output_digest,
                                            origin)

    def _on_payment(self, payment: Payment) -> None:
        self._payment = payment
        self._paid.set()

    async def _assign_until_done(self, bids: BidBook, resumed: StoredJob | None) -> Outcome:
        key = bids.key
        excluded = set(self.choice.excluded)
        attempt, left = 0, None
        bids_until = time.time() + self.bid_window
        if resumed is not None:  # what is left of its bid window; the assignment it was under
            left = self._left_assignment(resumed)
            attempt = self.services.store.get(key).attempt
            bids_until = resumed.created_at + self.bid_window
        with trio.move_on_at(_trio_time_of(bids_until)):
            await self._paid.wait()
        while not self._paid.is_set():
            assignment, left = left or await self._assign(bids, excluded, attempt), None
            if assignment is None:
                return await self._expire(key, attempt)
            executor = assignment.assignment.executor
            self.delegator.assigned[executor] += 1
            try:
                await self._hold_window(assignment.encode(), assignment.assignment.window_end)
            finally:
                self.delegator.assigned[executor] -= 1
            if self._paid.is_set():
                break
            if not self.wait and self._announced.is_set():
                self.progress("announced", {"reason": "witness announced; not waiting for "
                                            "the payment (see `node jobs`, `node events`)"})
                return Outcome(key, "assigned", attempt + 1)
            excluded.add(executor)
            self._moved(key, "bidding", f"window missed by {executor:#x}")
            attempt += 1
        return self._settle(key, attempt)

    async def _assign(
        self, bids: BidBook, excluded: set[int], attempt: int
    ) -> SignedAssignment | None:
        """Sign and record the assignment to the best bid; None if none came by the deadline."""
        services = self.services
        chosen = await self._next_bid(bids, excluded)
        if chosen is None:
            return None
        window_end = min(bids.header.deadline, int(time.time() + self.assignment_window))
        assignment = sign_assignment(
            Assignment(bids.key, chosen.bid.executor, window_end, attempt),
            services.network.chain_id, services.wallet.address, services.wallet.key,
        )
        self._moved(bids.key, "assigned", f"attempt {attempt}", executor=chosen.bid.executor,
                    assignment=assignment)
        return assignment

    def _left_assignment(self, job: StoredJob) -> SignedAssignment | None:
        """The assignment an earlier run left the job under, held again until its window ends
        (None if it left none)."""
        if job.state != "assigned":
            return None
        if job.signed_assignment is None:  # cannot be held again: back to bidding
            self._moved(job.job_hash, "bidding", "the earlier run's assignment is not known")
        return job.signed_assignment

    async def _next_bid(self, bids: BidBook, excluded: set[int]) -> SignedBid | None:
        """The best bid not yet tried; waits for one until the deadline, or until the job is
        paid (an executor whose window passed may still complete it): None then."""
        paid, scores, busy = self._executors_paid(), self.delegator.scores, self.delegator.assigned
        with trio.move_on_at(_trio_time_of(bids.header.deadline)):
            while True:
                chosen = bids.best(excluded, paid, scores, busy)
                if chosen is not None and await self._staked_enough(chosen.bid.executor):
                    return chosen
                if chosen is not None:
                    excluded.add(chosen.bid.executor)
                    if bids.best(excluded, paid, scores, busy) is None:
                        self.progress("no_qualified_bid", {
                            "reason": "every bidder so far stakes less than the minimum",
                            "min_stake": self.choice.min_stake})
                    continue
                if self._paid.is_set():
                    return None
                bids.arrived = trio.Event()
                with trio.move_on_after(IDLE_CHECK_S):
                    await bids.arrived.wait()
        return None

    async def _staked_enough(self, executor: int) -> bool:
        """Whether `executor` stakes at least the minimum in the Registry (told and logged if
        not)."""
        minimum = self.choice.min_stake
        if minimum == 0:
            return True
        services = self.services
        stake = await services.chain(services.registry.stake_of, executor)
        if stake >= minimum:
            return True
        log.info("bidder skipped: stake below the minimum",
                 extra={"executor": hex(executor), "stake": stake, "min_stake": minimum})
        self.progress("skipped", {"executor": hex(executor), "stake": stake,
                                  "min_stake": minimum,
                                  "reason": "stake below stream.min_stake"})
        return False

    async def _hold_window(self, encoded_assignment: bytes, window_end: int) -> None:
        """Re-publish the assignment until the job is paid or its window has passed; when not
        waiting for the payment, only until the job's witness is announced."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(republish, self.services, params.TOPIC_ASSIGNMENTS,
                               encoded_assignment, self._paid, window_end)
            with trio.move_on_at(_trio_time_of(window_end + WINDOW_GRACE_S)):
                async with trio.open_nursery() as either:
                    for event in (self._paid,) if self.wait else (self._paid, self._announced):
                        either.start_soon(_wait_then_cancel, event, either.cancel_scope)
            nursery.cancel_scope.cancel()

    async def _expire(self, key: int, attempts: int) -> Outcome:
        with trio.move_on_at(_trio_time_of(self.spec.deadline + DEADLINE_GRACE_S)):
            await self._paid.wait()
        if self._paid.is_set():
            return self._settle(key, attempts)
        self._moved(key, "expired", "deadline passed; the reward stays in the escrow")
        return Outcome(key, "expired", attempts)

    def _settle(self, key: int, attempt: int) -> Outcome:
        payment = self._payment
        assert payment is not None
        executor = hex(payment.executor)
        if self.services.store.get(key).state == "bidding":  # paid just after its window
            self.progress("assigned", {"reason": "paid after its window", "executor": executor})
        record_payment(self.services, key, payment)
        self.progress("submitted", {"reason": "JobCompleted seen", "executor": executor})
        self.progress("paid", {"executor": executor, "reward": payment.reward,
                               "tx": hex(payment.transaction_hash)})
        return Outcome(key, "paid", attempt + 1, payment)

    def _moved(self, key: int, state: str, reason: str, **fields: Any) -> None:
        self.services.transition(key, state, reason, **fields)
        shown = {k: hex(v) if isinstance(v, int) else v for k, v in fields.items()
                 if k not in ("assignment", "output")}
        self.progress(state, {"reason": reason, **shown})

    def _executors_paid(self) -> Counter[int]:
        """How many of this delegator's jobs each executor was paid for."""
        paid = self.services.store.jobs(states=["paid"], role="delegator")
        return Counter(job.executor for job in paid if job.executor is not None)


async def _wait_then_cancel(event: trio.Event, scope: trio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


def _trio_time_of(unix_time: float) -> float:
    """The trio clock reading at the Unix time `unix_time`."""
    return trio.current_time() + (unix_time - time.time())
