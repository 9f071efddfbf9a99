"""The executor (`node serve`): bid for jobs worth taking, run the assigned ones, get paid.

A job's path here: header (gossip-validated) → admission checks → bid, re-published until an
assignment for the job is seen → if it names us: fetch the body (sha256 checked against the
header's body id), run it (allowed hints only, the header's step limit), check the program hash,
store the output's sections as volumes if the body declares output volumes, put the witness in
the DHT and announce it until a validator's fact is registered → submit the witness to the
Registry (the output, or its digest for a job with output volumes) → paid. Every state change
goes to the job store, so a restarted executor resumes its assigned jobs; payment is recorded
exactly once.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Set
from functools import partial

import trio
from libp2p.peer.id import ID
from starknet_py.net.client_errors import ClientError

from cairo_jobs.facts import output_digest
from cairo_jobs.failures import RunFailure
from cairo_jobs.model import RunRequest, RunResult
from cairo_jobs.pool import RunnerPool
from cairo_jobs.proving import Prover
from cairo_jobs.streaming import is_stream_input
from node.chain import ChainError
from node.roles.admission import Terms, refusal
from node.roles.gossip import drain_unread, republish, subscribe_all
from node.roles.payments import find_payment
from node.roles.services import Services
from node.roles.streaming import StreamSessions
from node.roles.volumes import (
    VolumeError,
    load_volumes,
    offer_output_volumes,
    output_sections,
    output_volume_refs,
    program_input_with,
)
from node.roles.witnesses import FactMissing, announce_until_registered, offer_witness
from node.store import StoredJob
from p2p import params
from p2p.codec import CodecError
from p2p.content import NotFound
from p2p.messages import (
    Bid,
    JobBody,
    SignedAssignment,
    SignedJobHeader,
    SignedWitnessNotice,
)
from p2p.records import digest_key
from p2p.signing import job_hash, sign_bid
from registry_contract.client import Refusal, Refused

log = logging.getLogger(__name__)

STEPS_PER_SECOND_ESTIMATE = 20_000
"""A cautious Cairo VM speed, for the finish time a bid promises."""

BID_BACKOFF = 8
"""Bids for a job assigned to another executor are re-published this many times less often."""

FORGET_AFTER_S = 300.0
"""Jobs whose deadline passed this long ago are forgotten in memory."""

CHAIN_RETRY_S = 5.0
"""Pause before a job is taken up again after a chain call failed."""

RESUMABLE = ("assigned", "running", "proving", "submitted")


class JobFailed(Exception):
    """The job cannot be completed by this executor; the message says why."""


class Executor:
    """One executor node: `await Executor(services, pool, hints).run()` serves until cancelled."""

    def __init__(
        self,
        services: Services,
        pool: RunnerPool,
        allowed_hints: Set[str],
        prover: Prover | None = None,
    ) -> None:
        self.services = services
        self.pool = pool
        self.allowed_hints = frozenset(allowed_hints)
        self.prover = prover
        """Proves each run (witness mode `native`, `stone`); None: re-execution witnesses."""
        settings = services.config.executor
        self.terms = Terms(settings.max_steps, settings.min_reward)
        self._slots = trio.CapacityLimiter(settings.max_jobs)
        """Jobs running Cairo or proving at once; fetching bodies and waiting for the chain
        (fact, payment) take none."""
        self._mine: dict[int, trio.Event] = {}
        """Set when an assignment of the job to this executor arrives: bidding stops."""
        self._taken: set[int] = set()
        """Jobs seen assigned to another executor: bids slow down (a re-assignment may come)."""
        self._publishers: dict[int, ID] = {}
        self._working: set[int] = set()
        self._min_security_bits = 0
        self.streams = StreamSessions.of_executor(services, pool, self.allowed_hints)

    @property
    def address(self) -> int:
        return self.services.wallet.address

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled."""
        services = self.services
        self._min_security_bits = await services.chain(
            services.registry.setting, "min_security_bits"
        )
        channels = await subscribe_all(services.p2p.gossip)
        self.streams.serve(services.p2p.host)
        async with trio.open_nursery() as nursery:
            for job in services.store.unfinished("executor"):
                self._resume(nursery, job)
            nursery.start_soon(self._read_headers, nursery, channels[params.TOPIC_JOBS])
            nursery.start_soon(
                self._read_assignments, nursery, channels[params.TOPIC_ASSIGNMENTS]
            )
            nursery.start_soon(
                drain_unread, channels, {params.TOPIC_JOBS, params.TOPIC_ASSIGNMENTS}
            )
            nursery.start_soon(self._forget_expired_jobs)
            task_status.started()

    # Headers and bids

    async def _read_headers(
        self, nursery: trio.Nursery, channel: trio.MemoryReceiveChannel
    ) -> None:
        async for message in channel:
            signed = SignedJobHeader.decode(message.data)  # the gossip validator accepted it
            key = job_hash(signed.header)
            if key in self.services.headers:
                continue  # a re-publication
            self.services.headers[key] = signed
            self._publishers[key] = message.origin
            nursery.start_soon(self._consider, nursery, signed, key)

    async def _consider(self, nursery: trio.Nursery, signed: SignedJobHeader, key: int) -> None:
        services = self.services
        if _known(services, key):
            return
        header = signed.header
        try:
            reason = await refusal(header, key, self.terms, services.view)
        except ChainError as error:
            log.warning("cannot check the job on chain; waiting for its next publication",
                        extra={"job": hex(key), "error": str(error)})
            del services.headers[key]
            return
        if reason is not None:
            services.metrics.messages_dropped.labels(topic=params.TOPIC_JOBS, reason=reason).inc()
            log.info("job declined", extra={"job": hex(key), "reason": reason})
            return
        services.store.record_job(signed, "executor")
        self._publish_bid(nursery, signed, key)

    def _publish_bid(self, nursery: trio.Nursery, signed: SignedJobHeader, key: int) -> None:
        """Bid for the job, re-published until an assignment for it is seen."""
        services, header = self.services, signed.header
        ratio = services.config.executor.price_ratio
        price = min(header.reward, max(self.terms.min_reward, math.ceil(header.reward * ratio)))
        estimate = 10 + header.max_steps / STEPS_PER_SECOND_ESTIMATE
        finish_by = min(header.deadline, int(time.time() + estimate))
        if services.store.get(key).state == "published":
            services.transition(key, "bidding", f"bid {price}")
        bid = sign_bid(Bid(key, self.address, price, finish_by), header.chain_id,
                       services.wallet.key)
        mine = self._mine.setdefault(key, trio.Event())
        nursery.start_soon(republish, services, params.TOPIC_BIDS, bid.encode(), mine,
                           header.deadline, partial(self._bid_pace, key))

    def _bid_pace(self, key: int) -> float:
        """Bids are re-published while the job is open and not ours (a delegator that did not
        hear them, or whose assignee misses its window, can still pick us), slower once the
        job went to another executor."""
        if self.services.store.get(key).state != "bidding":
            return 0.0
        return BID_BACKOFF if key in self._taken else 1.0

    # Assignments

    async def _read_assignments(
        self, nursery: trio.Nursery, channel: trio.MemoryReceiveChannel
    ) -> None:
        async for message in channel:
            signed = SignedAssignment.decode(message.data)  # validated against a known header
            assignment = signed.assignment
            key = assignment.job_hash
            if not _known(self.services, key) or key in self._working:
                continue
            job = self.services.store.get(key)
            if assignment.executor != self.address:
                if job.state == "bidding" and key not in self._taken:
                    self._taken.add(key)
                    log.info("job assigned to another executor",
                             extra={"job": hex(key), "executor": hex(assignment.executor)})
                continue
            self._mine.setdefault(key, trio.Event()).set()
            if job.state != "bidding":
                continue
            self.services.transition(key, "assigned", f"attempt {assignment.attempt}",
                                     executor=self.address, assignment=signed)
            self._start(nursery, key)

    async def _forget_expired_jobs(self) -> None:
        """Drop what is kept in memory about jobs whose deadline is long past (the store keeps
        their record), so that a long-running executor does not grow."""
        while True:
            await trio.sleep(FORGET_AFTER_S)
            for key in self.services.forget_jobs_before(time.time() - FORGET_AFTER_S):
                for kept in (self._mine, self._publishers):
                    kept.pop(key, None)
                self._taken.discard(key)

    # Work

    def _resume(self, nursery: trio.Nursery, job: StoredJob) -> None:
        log.info("resuming job", extra={"job": hex(job.job_hash), "state": job.state})
        self.services.headers[job.job_hash] = job.signed_header
        if job.state in RESUMABLE:
            self._start(nursery, job.job_hash)
        else:
            nursery.start_soon(self._bid_again, nursery, job)

    async def _bid_again(self, nursery: trio.Nursery, job: StoredJob) -> None:
        """A job this executor bid for before it stopped: drop it if settled, else bid anew."""
        header = job.signed_header.header
        if header.deadline < time.time():
            self.services.transition(job.job_hash, "expired", "deadline passed while stopped")
            return
        try:
            state = await self.services.view.job_state(job.job_hash)
        except ChainError as error:
            log.warning("cannot check a resumed job", extra={"job": hex(job.job_hash),
                                                             "error": str(error)})
            return
        if state.paid:
            self._fail(job.job_hash, f"{Refusal.ALREADY_PAID.value} to {state.executor:#x}")
            return
        self._publish_bid(nursery, job.signed_header, job.job_hash)

    def _start(self, nursery: trio.Nursery, key: int) -> None:
        self._working.add(key)
        nursery.start_soon(self._work, key)

    async def _work(self, key: int) -> None:
        try:
            await self._complete_despite_chain_errors(key)
        except (JobFailed, RunFailure, NotFound, CodecError, Refused, ClientError) as failure:
            self._fail(key, failure.refusal.value if isinstance(failure, Refused) else str(failure))
        except trio.TooSlowError:
            self._fail(key, "the job body could not be fetched in time")
        except Exception as error:  # a defect must cost this job, not the node
            log.exception("job failed on an unexpected error", extra={"job": hex(key)})
            self._fail(key, f"internal error: {error!r}")
        finally:
            self._working.discard(key)

    def _fail(self, key: int, reason: str) -> None:
        log.warning("job failed", extra={"job": hex(key), "reason": reason})
        self.services.transition(key, "failed", reason[:500])

    async def _complete_despite_chain_errors(self, key: int) -> None:
        """Complete the job, starting again from its stored state after a chain failure."""
        deadline = self.services.store.get(key).signed_header.header.deadline
        while True:
            try:
                return await self._complete(key)
            except (ChainError, Refused) as error:
                if isinstance(error, Refused) and error.refusal is not Refusal.ASSIGNED_TO_OTHER:
                    raise  # ASSIGNED_TO_OTHER: the chain's clock has not reached our window yet
                if time.time() > deadline:
                    raise JobFailed(f"deadline passed; last chain error: {error}") from error
                log.warning("chain call failed; retrying the job",
                            extra={"job": hex(key), "error": str(error)})
                await trio.sleep(CHAIN_RETRY_S)

    async def _complete(self, key: int) -> None:
        services = self.services
        paid = await services.view.job_state(key)
        if paid.paid and paid.executor != self.address:
            raise JobFailed(f"{Refusal.ALREADY_PAID.value} to {paid.executor:#x}")
        job = services.store.get(key)
        signed, assignment = job.signed_header, job.signed_assignment
        started = time.monotonic()
        body = await self._fetch_body(key, signed.header.body_id)
        services.metrics.observe_step("fetch", time.monotonic() - started)
        if job.state != "submitted":
            async with self._slots:  # the run and the proof; waits on the chain hold no slot
                result = await self._run(key, job, body)
                if job.state != "proving":
                    services.transition(key, "proving", f"ran {result.steps} steps")
                try:
                    notice = await self._publish_witness(key, signed, result,
                                                         body.output_volumes)
                finally:
                    if result.artifacts is not None:
                        shutil.rmtree(result.artifacts.public_input.parent, ignore_errors=True)
            await self._wait_for_fact(notice, result.output)
            services.transition(key, "submitted", "fact registered", output=result.output)
        output = services.store.get(key).output or ()
        await self._submit(key, signed, assignment, list(output), bool(body.output_volumes))

    async def _run(self, key: int, job: StoredJob, body: JobBody) -> RunResult:
        services = self.services
        header = job.signed_header.header
        if job.state == "assigned":
            services.transition(key, "running", "body fetched")
        if is_stream_input(body.program_input):  # a session; its settle body runs below
            body = await self.streams.run_session(key, header, body, self._publishers.get(key))
        try:
            volumes = await load_volumes(services.p2p.content, body, self._publishers.get(key))
            program_input = program_input_with(body, volumes)
        except VolumeError as error:
            raise JobFailed(str(error)) from error
        request = RunRequest.from_body(
            body.program, program_input, body.layout, max_steps=header.max_steps,
            timeout=services.config.executor.run_timeout, allowed_hints=self.allowed_hints,
            proof_mode=self.prover is not None,
        )
        started = time.monotonic()
        result = await self.pool.run(request)
        services.metrics.observe_step("run", time.monotonic() - started)
        if result.program_hash != header.program_hash:
            raise JobFailed(
                f"the body's program hash {result.program_hash:#x} is not the header's "
                f"{header.program_hash:#x}"
            )
        return result

    async def _fetch_body(self, key: int, body_id: bytes) -> JobBody:
        content = self.services.p2p.content
        with trio.fail_after(params.FETCH_TIMEOUT + params.DHT_GET_TIMEOUT):
            data = await content.get(digest_key(params.NS_BODY, body_id),
                                     publisher=self._publishers.get(key))
        return JobBody.decode(data)

    async def _publish_witness(
        self, key: int, signed: SignedJobHeader, result: RunResult, volume_names: tuple[str, ...]
    ) -> SignedWitnessNotice:
        """Offer the output volumes (if any), prove the run (with a prover), offer the witness;
        return the notice announcing it."""
        volumes: tuple[tuple[str, bytes], ...] = ()
        if volume_names:
            try:
                sections = output_sections(volume_names, result.output)
            except VolumeError as error:
                raise JobFailed(str(error)) from error
            volumes = output_volume_refs(sections)
            offer_output_volumes(self.services.p2p.content, sections)
        proof, prove_ms = None, 0
        if self.prover is not None:
            started = time.monotonic()
            try:
                proof = await self.prover.prove(result)
            except Exception as error:  # a prover failure fails this job, not the node
                raise JobFailed(f"proving failed: {error}") from error
            elapsed = time.monotonic() - started
            self.services.metrics.observe_step("prove", elapsed)
            prove_ms = round(elapsed * 1000)
        return offer_witness(self.services, signed, result.output, proof,
                             round(result.timings.total * 1000), prove_ms, volumes)

    async def _wait_for_fact(self, notice: SignedWitnessNotice, output: list[int]) -> None:
        """Announce the witness until its fact is registered strongly enough, or the deadline."""
        started = time.monotonic()
        try:
            await announce_until_registered(self.services, notice, output,
                                            self._min_security_bits)
        except FactMissing as missing:
            raise JobFailed(str(missing)) from None
        self.services.metrics.observe_step("verify", time.monotonic() - started)

    async def _submit(
        self, key: int, signed: SignedJobHeader, assignment: SignedAssignment | None,
        output: list[int], on_digest: bool,
    ) -> None:
        """Claim the reward: for the output, or for its digest when it is in output volumes."""
        services = self.services
        started = time.monotonic()
        registry = services.registry
        try:
            if on_digest:
                receipt = await services.transact(
                    registry.submit_witness_digest, signed, output_digest(output), assignment)
            else:
                receipt = await services.transact(
                    registry.submit_witness, signed, output, assignment)
        except Refused as refused:
            if refused.refusal is not Refusal.ALREADY_PAID:
                raise
            payment = await find_payment(services, key)
            if payment is None or payment.executor != self.address:
                raise
            services.mark_paid(key, payment.transaction_hash)  # paid before a restart
            return
        services.metrics.observe_step("submit", time.monotonic() - started)
        services.mark_paid(key, receipt.transaction_hash)
        log.info("job paid", extra={"job": hex(key), "reward": signed.header.reward,
                                    "tx": hex(receipt.transaction_hash)})


def _known(services: Services, key: int) -> bool:
    try:
        services.store.get(key)
    except KeyError:
        return False
    return True
