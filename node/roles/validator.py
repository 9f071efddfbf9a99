"""The validator (`node validate`): check announced witnesses and register their facts.

For each witness notice (gossip-validated: the job's header and the executor's signature), fetch
the witness and the job body from the DHT, verify the claimed output and, when it holds,
register `fact = poseidon(program_hash, poseidon(output))` in the FactRegistry with the
verdict's bits. A witness with a proof (mode `native`, `stone`) is checked by the verifier of
its mode, which reports the proof's security bits; a re-execution witness (`reexec`) by the
re-execution verifier: 0 bits, as is every witness when the validator is configured to
re-execute (`validator.reexecute`). The Registry decides which bits it pays for.

A witness whose output is in output volumes names the body's volumes in order with their
sha256: each is fetched (the content store checks the hash), their sections joined back into the
output, whose poseidon digest must be the witness's; that output is then verified as above, so a
volume that is not the run's section fails the check.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import time
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass
from pathlib import Path

import trio
from libp2p.peer.id import ID
from starknet_py.net.client_errors import ClientError

from cairo_jobs.facts import fact_hash
from cairo_jobs.failures import RunFailure
from cairo_jobs.model import RunRequest
from cairo_jobs.proving import Claim, Proof, Verdict, VerificationMode, Verifier
from cairo_jobs.streaming import is_stream_input
from node.chain import ChainError
from node.roles.gossip import drain_unread, subscribe_all
from node.roles.services import Services
from node.roles.streaming import settle_body_for
from node.roles.volumes import (
    VolumeError,
    checked_output_volumes,
    joined_output,
    load_volumes,
    program_input_with,
)
from p2p import params
from p2p.codec import CodecError
from p2p.content import NotFound
from p2p.messages import JobBody, JobWitness, SignedWitnessNotice
from p2p.records import digest_key
from registry_contract.client import Refused

log = logging.getLogger(__name__)

FORGET_AFTER_S = 300.0
"""Witnesses of jobs whose deadline passed this long ago are forgotten."""


@dataclass(frozen=True)
class Checked:
    """What became of one witness."""

    job_hash: int
    fact: int
    valid: bool
    security_bits: int
    reason: str


class Validator:
    """One validator node: `await Validator(services, verifier, hints).run()` until cancelled;
    `report` is called with each witness's outcome."""

    def __init__(
        self,
        services: Services,
        verifier: Verifier,
        allowed_hints: Set[str],
        report: Callable[[Checked], None] = lambda checked: None,
        proof_verifiers: Mapping[str, Verifier] | None = None,
        reexecute: bool = False,
    ) -> None:
        self.services = services
        self.verifier = verifier
        self.proof_verifiers = dict(proof_verifiers or {})
        """Witness mode (`native`, `stone`) -> the verifier of its proofs."""
        self.reexecute = reexecute
        """Re-execute every witness (0 proof bits), proofs unread."""
        self.allowed_hints = frozenset(allowed_hints)
        self.report = report
        self._seen: dict[bytes, int] = {}
        """Witness ids being or already checked, with their job's deadline."""
        self._next_sweep = time.time() + FORGET_AFTER_S

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        channels = await subscribe_all(self.services.p2p.gossip)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(drain_unread, channels, {params.TOPIC_DONE})
            task_status.started()
            async for message in channels[params.TOPIC_DONE]:
                signed = SignedWitnessNotice.decode(message.data)  # the validator accepted it
                if signed.notice.witness_id in self._seen:
                    continue  # a re-publication
                self._seen[signed.notice.witness_id] = signed.header.header.deadline
                self._forget_expired()
                nursery.start_soon(self._check_safely, signed, message.origin)

    def _forget_expired(self) -> None:
        """Every FORGET_AFTER_S, drop the witness ids of jobs whose deadline is that long past
        (they can no longer be paid)."""
        now = time.time()
        if now < self._next_sweep:
            return
        self._next_sweep = now + FORGET_AFTER_S
        self._seen = {w: deadline for w, deadline in self._seen.items()
                      if deadline >= now - FORGET_AFTER_S}

    async def _check_safely(self, signed: SignedWitnessNotice, origin: ID) -> None:
        job = signed.notice.job_hash
        try:
            checked = await self._check(signed, origin)
        except (NotFound, CodecError, RunFailure, trio.TooSlowError) as error:
            log.warning("witness not checked", extra={"job": hex(job), "reason": str(error)})
            self._seen.pop(signed.notice.witness_id, None)  # its next announcement retries
            return
        except (ChainError, ClientError, Refused) as error:
            log.warning("fact not registered", extra={"job": hex(job), "reason": str(error)})
            self._seen.pop(signed.notice.witness_id, None)
            return
        self.report(checked)
        level = logging.INFO if checked.valid else logging.WARNING
        log.log(level, "witness checked", extra={
            "job": hex(job), "fact": hex(checked.fact), "valid": checked.valid,
            "security_bits": checked.security_bits, "reason": checked.reason})

    async def _check(self, signed: SignedWitnessNotice, origin: ID) -> Checked:
        services = self.services
        header, notice = signed.header.header, signed.notice
        content = services.p2p.content
        with trio.fail_after(params.FETCH_TIMEOUT + params.DHT_GET_TIMEOUT):
            witness = JobWitness.decode(
                await content.get(digest_key(params.NS_WITNESS, notice.witness_id), origin)
            )
            body = JobBody.decode(await content.get(digest_key(params.NS_BODY, header.body_id)))
            if is_stream_input(body.program_input):  # a session: check its settle run
                body = await settle_body_for(services.p2p.host, origin, notice.job_hash, body)
        try:
            output = await self._claimed_output(witness, body, origin)
        except VolumeError as error:
            return Checked(notice.job_hash, 0, False, 0, str(error))
        fact = fact_hash(header.program_hash, output)
        if (witness.job_hash, witness.executor) != (notice.job_hash, notice.executor):
            return Checked(notice.job_hash, fact, False, 0, "witness of another job or executor")
        if await services.chain(services.facts.is_valid, fact):
            return Checked(notice.job_hash, fact, True, 0, "fact already registered")
        try:
            program_input = program_input_with(body, await load_volumes(content, body))
        except VolumeError as error:
            return Checked(notice.job_hash, fact, False, 0, str(error))
        request = RunRequest.from_body(
            body.program, program_input, body.layout, max_steps=header.max_steps,
            timeout=services.config.executor.run_timeout, allowed_hints=self.allowed_hints,
        )
        started = time.monotonic()
        claim = Claim(request, header.program_hash, output)
        if witness.mode == "reexec" or self.reexecute:
            verdict = await self.verifier.verify(claim)
        else:
            verdict = await self._verify_proof(claim, witness)
        elapsed = time.monotonic() - started
        services.metrics.observe_step("verify", elapsed)
        log.info("witness verified", extra={"job": hex(notice.job_hash), "valid": verdict.valid,
                                            "ms": round(elapsed * 1000)})
        if verdict.valid:
            await services.transact(services.facts.register_fact, fact, verdict.security_bits)
        return Checked(notice.job_hash, fact, verdict.valid, verdict.security_bits, verdict.reason)

    async def _claimed_output(
        self, witness: JobWitness, body: JobBody, origin: ID
    ) -> list[int]:
        """The output a witness claims: inline, or joined back from its output volumes (each
        checked against its sha256, the whole against the witness's digest).

        Raises VolumeError when the volumes are not the body's, cannot be had, or do not hold.
        """
        volumes = await checked_output_volumes(
            self.services.p2p.content, witness.output_volumes, body.output_volumes,
            witness.output_digest, origin)
        if not volumes:
            return list(witness.output)
        return joined_output([volume.felts for volume in volumes])

    async def _verify_proof(self, claim: Claim, witness: JobWitness) -> Verdict:
        """Check the witness's proof with the verifier of its mode (`native`, `stone`)."""
        mode = VerificationMode(witness.mode)
        verifier = self.proof_verifiers.get(witness.mode)
        if verifier is None:
            return Verdict(False, mode, 0, f"this validator verifies no {witness.mode} proofs")
        if not witness.proof:
            return Verdict(False, mode, 0, "the witness carries no inline proof")
        with tempfile.TemporaryDirectory(prefix="zetina-proof-") as folder:
            path = Path(folder) / "proof"
            path.write_bytes(witness.proof)
            proof = Proof(mode, path, witness.security_bits)
            return await verifier.verify(dataclasses.replace(claim, proof=proof))
