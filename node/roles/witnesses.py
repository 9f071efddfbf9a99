"""A witness offered and announced until a validator registers its fact.

The executor's path for every job it ran, and the streaming client's path for the one-request
run that proves the truth of a disputed reply (`node/disputes.py`): the `JobWitness` is offered
like a body (`/zetina-witness/<sha256>`), a `SignedWitnessNotice` (this node's signature, with
the job's signed header) is re-published on `/zetina/1/done` until the FactRegistry holds
`fact = poseidon(program_hash, poseidon(output))` with at least the wanted bits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import trio

from cairo_jobs.facts import fact_hash, output_digest
from cairo_jobs.proving import Proof
from node.roles.gossip import republish
from node.roles.services import Services
from p2p import params
from p2p.messages import JobWitness, SignedJobHeader, SignedWitnessNotice, WitnessNotice
from p2p.signing import job_hash, sign_notice


class FactMissing(Exception):
    """The job's deadline passed before a validator registered the fact strongly enough."""


def offer_witness(
    services: Services, signed: SignedJobHeader, output: Sequence[int], proof: Proof | None,
    run_ms: int, prove_ms: int, volumes: tuple[tuple[str, bytes], ...] = (),
) -> SignedWitnessNotice:
    """Offer the witness of this node's run of the job (a re-execution witness without
    `proof`); return the signed notice that announces it. With output `volumes` ((name,
    sha256) of the output's sections, offered already) it carries the output's digest, not
    the output."""
    key = job_hash(signed.header)
    mode, bits, data = "reexec", 0, b""
    if proof is not None:
        mode, bits, data = proof.backend.wire_name, proof.security_bits, proof.path.read_bytes()
    inline, digest = (tuple(output), 0) if not volumes else ((), output_digest(output))
    address = services.wallet.address
    witness = JobWitness(job_hash=key, executor=address, output=inline, mode=mode,
                         security_bits=bits, proof=data, proof_id=b"", run_ms=run_ms,
                         prove_ms=prove_ms, output_digest=digest, output_volumes=volumes)
    encoded = witness.encode()
    services.p2p.content.offer(params.NS_WITNESS, encoded)  # validators ask us first
    notice = WitnessNotice(key, address, hashlib.sha256(encoded).digest())
    return sign_notice(notice, signed, services.wallet.key)


async def announce_until_registered(
    services: Services, notice: SignedWitnessNotice, output: Sequence[int], min_bits: int
) -> None:
    """Re-publish `notice` until its fact is registered with at least `min_bits`; FactMissing
    once the job's deadline has passed."""
    header = notice.header.header
    fact = fact_hash(header.program_hash, list(output))
    done = trio.Event()
    failure: Exception | None = None
    async with trio.open_nursery() as nursery:
        nursery.start_soon(republish, services, params.TOPIC_DONE, notice.encode(), done,
                           header.deadline)
        try:
            if not await services.facts_seen.wait(fact, min_bits, header.deadline):
                raise FactMissing("deadline passed before a validator registered the fact")
        except Exception as error:  # raised out of the nursery, not in an ExceptionGroup
            failure = error
        done.set()
    if failure is not None:
        raise failure
