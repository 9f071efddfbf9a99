"""A disputed streaming reply: the truth proven and registered, the liar reported on chain.

When two executors answer one request differently, the client establishes the truth itself:
it runs the request (it has the program) in proof mode and proves the run with the native
prover. The proof travels the witness path (`node/roles/witnesses.py`): a *dispute job*, a
header this client signs for the one-request body (reward 0, never published on the jobs
topic, so no executor runs it), whose witness is announced on `/zetina/1/done`; a validator
verifies the proof and registers `fact(program_hash, [n, input..., output...])` with the
proof's bits, which a report needs (at least the Registry's `min_security_bits`, like a
payment). Each executor whose signed reply differs from the truth is then reported with a
`CheatReport` that `registry_contract.cheats.check_cheat_evidence` accepted first; the
Registry slashes its stake. An executor that answered the truth is never reported.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass

from cairo_jobs.model import RunRequest, RunResult
from cairo_jobs.native.backend import NativeProver
from cairo_jobs.pool import RunnerPool
from cairo_jobs.streaming import request_input
from node.roles.services import Services
from node.roles.witnesses import announce_until_registered, offer_witness
from node.stream_client import Reply
from p2p import params
from p2p.messages import (
    CheatReport,
    JobBody,
    JobHeader,
    SignedJobHeader,
    SignedStreamSession,
    SignedWitnessNotice,
)
from p2p.signing import KnownPublicKeys, sign_header
from registry_contract.cheats import Judge, check_cheat_evidence
from registry_contract.events import CheatReported, registry_events_in

log = logging.getLogger(__name__)


class DisputeFailed(Exception):
    """The truth could not be established or the report would be refused; says why."""


@dataclass(frozen=True)
class Side:
    """One executor's answer to a disputed request, with what makes it evidence."""

    header: SignedJobHeader
    """The signed header of the job whose session gave the reply."""
    session: SignedStreamSession
    reply: Reply

    @property
    def executor(self) -> int:
        return self.session.session.executor


@dataclass(frozen=True)
class Reported:
    """A cheat report the Registry accepted."""

    executor: int
    transaction: int
    slashed: int


class BridgedFacts:
    """The node's FactRegistry client as `registry_contract.cheats.FactSource`, from trio."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def is_valid(self, fact: int) -> bool:
        return await self.services.chain(self.services.facts.is_valid, fact)

    async def get_verification(self, fact: int) -> int:
        return await self.services.chain(self.services.facts.get_verification, fact)


class Disputes:
    """Settles disputed requests of one streaming program for this node's account."""

    def __init__(self, services: Services, pool: RunnerPool, prover: NativeProver,
                 body: JobBody, program_hash: int) -> None:
        self.services = services
        self.pool = pool
        self.prover = prover
        self.body = body
        """The streaming job's body: the program and layout each request runs with."""
        self.program_hash = program_hash
        self._min_security_bits: int | None = None

    async def settle(self, request: Sequence[int], sides: Sequence[Side], max_steps: int,
                     deadline: int) -> list[Reported]:
        """Prove the truth of `request`, have it registered, report every side that lied."""
        truth = await self.prove_truth(request, max_steps, deadline)
        reply = truth[len(request) + 1:]
        return [await self.report(side, truth) for side in sides
                if list(side.reply.output) != reply]

    async def prove_truth(self, request: Sequence[int], max_steps: int,
                          deadline: int) -> list[int]:
        """The output `[n, input..., output...]` of a proven run of `request`, once its fact is
        registered with the Registry's minimum bits."""
        services = self.services
        result = await self.pool.run(RunRequest(
            program=self.body.program, program_input=request_input(request),
            layout=self.body.layout, max_steps=max_steps, proof_mode=True,
        ))
        try:
            if result.program_hash != self.program_hash:
                raise DisputeFailed("the program run is not the job's program")
            notice = await self._announce(result, request, max_steps, deadline)
        finally:
            if result.artifacts is not None:
                shutil.rmtree(result.artifacts.public_input.parent, ignore_errors=True)
        await announce_until_registered(services, notice, result.output,
                                        await self._min_bits())
        log.info("disputed request proven", extra={"request": list(request),
                                                   "output": result.output})
        return result.output

    async def _announce(self, result: RunResult, request: Sequence[int], max_steps: int,
                        deadline: int) -> SignedWitnessNotice:
        services = self.services
        body = JobBody(self.body.program, _compact_input(request), self.body.layout)
        services.p2p.content.offer(params.NS_BODY, body.encode())
        header = JobHeader(
            chain_id=services.network.chain_id, registry=services.network.registry,
            delegator=services.wallet.address, body_id=body.body_id,
            program_hash=self.program_hash, max_steps=max_steps, reward=0, deadline=deadline,
            nonce=secrets.randbits(64),
        )
        started = time.monotonic()
        try:
            proof = await self.prover.prove(result)
        except Exception as error:  # the prover's own errors say what failed
            raise DisputeFailed(f"proving the disputed request failed: {error}") from error
        prove_ms = round((time.monotonic() - started) * 1000)
        return offer_witness(services, sign_header(header, services.wallet.key), result.output,
                             proof, round(result.timings.total * 1000), prove_ms)

    async def report(self, side: Side, truth: Sequence[int]) -> Reported:
        """Report `side`'s reply as contradicted by the registered `truth`."""
        report = CheatReport(side.header, side.session, side.reply.signed, tuple(truth), None)
        refusal = await check_cheat_evidence(report, await self._judge(side))
        if refusal is not None:
            raise DisputeFailed(f"the Registry would refuse the report: {refusal.value}")
        services = self.services
        receipt = await services.transact(services.registry.report_cheat, report)
        [event] = [e for e in registry_events_in(receipt.events, services.network.registry)
                   if isinstance(e, CheatReported)]
        log.warning("cheating executor reported", extra={
            "executor": hex(event.executor), "slashed": event.slashed,
            "tx": hex(receipt.transaction_hash)})
        return Reported(event.executor, receipt.transaction_hash, event.slashed)

    async def _judge(self, side: Side) -> Judge:
        services = self.services
        executor_key = await services.keys.ensure(side.executor)
        if executor_key is None:
            raise DisputeFailed(f"the public key of executor {side.executor:#x} is unknown")
        keys = {services.wallet.address: services.wallet.key.public_key,
                side.executor: executor_key}
        return Judge(services.network.chain_id, services.network.registry,
                     await self._min_bits(), KnownPublicKeys(keys), BridgedFacts(services))

    async def _min_bits(self) -> int:
        """The Registry's `min_security_bits` (read once)."""
        if self._min_security_bits is None:
            self._min_security_bits = await self.services.chain(
                self.services.registry.setting, "min_security_bits")
        return self._min_security_bits


def _compact_input(request: Sequence[int]) -> bytes:
    return json.dumps(request_input(request), separators=(",", ":")).encode()
