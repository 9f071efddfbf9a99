"""Cheat reports checked off chain, by the rules the Registry's `report_cheat` and
`report_contradiction` apply, in the same order and with the same refusals.

Anyone holding a `CheatReport` can check it before paying for a transaction: the signatures (the
delegator's header and the executor's session through a `SignatureChecker`, the reply with the
session key), and for a report backed by a fact, the FactRegistry's verification of that fact.
Only replay protection ("already reported") needs the Registry's own state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from cairo_jobs.facts import fact_hash
from p2p import stark
from p2p.messages import CheatReport, SignedStreamReply, StreamSession, felts_digest
from p2p.signing import SignatureChecker, job_hash, reply_hash, session_hash
from registry_contract.client import Refusal

MAX_INPUT_FELTS = 2**32
"""The contract reads a fact output's input length as a u32."""


class FactSource(Protocol):
    """What a FactRegistry answers about a fact (`FactRegistryClient` is one)."""

    async def is_valid(self, fact: int) -> bool: ...

    async def get_verification(self, fact: int) -> int: ...


@dataclass(frozen=True)
class Judge:
    """The Registry a report is meant for and what it trusts: its chain, address, minimum
    security bits, the accounts' signatures and the facts."""

    chain_id: int
    registry: int
    min_security_bits: int
    signatures: SignatureChecker
    facts: FactSource


async def check_cheat_evidence(report: CheatReport, judge: Judge) -> Refusal | None:
    """None when the Registry would slash on `report` (unless already reported), else the
    refusal it would give."""
    refusal = await _session_refusal(report, judge)
    if refusal is not None:
        return refusal
    session = report.session.session
    refusal = _reply_refusal(report.reply, session, judge.chain_id)
    if refusal is not None:
        return refusal
    if report.other_reply is not None:
        return _contradiction_refusal(report.reply, report.other_reply, session, judge.chain_id)
    return await _fact_refusal(report, judge)


async def _session_refusal(report: CheatReport, judge: Judge) -> Refusal | None:
    header, session = report.header.header, report.session.session
    job = job_hash(header)
    if header.chain_id != judge.chain_id:
        return Refusal.WRONG_CHAIN
    if header.registry != judge.registry:
        return Refusal.WRONG_REGISTRY
    if session.job_hash != job:
        return Refusal.WRONG_SESSION_JOB
    if not await judge.signatures.is_valid_signature(header.delegator, job,
                                                     report.header.signature):
        return Refusal.BAD_SIGNATURE
    digest = session_hash(session, header.chain_id)
    if not await judge.signatures.is_valid_signature(session.executor, digest,
                                                     report.session.signature):
        return Refusal.BAD_SESSION_SIGNATURE
    return None


def _reply_refusal(
    signed: SignedStreamReply, session: StreamSession, chain_id: int
) -> Refusal | None:
    if signed.reply.job_hash != session.job_hash:
        return Refusal.WRONG_REPLY_JOB
    digest = reply_hash(signed.reply, chain_id, session.executor)
    if not stark.verify(session.session_key, digest, signed.signature):
        return Refusal.BAD_REPLY_SIGNATURE
    return None


def _contradiction_refusal(
    reply: SignedStreamReply, other: SignedStreamReply, session: StreamSession, chain_id: int
) -> Refusal | None:
    refusal = _reply_refusal(other, session, chain_id)
    if refusal is not None:
        return refusal
    if reply.reply.input_hash != other.reply.input_hash:
        return Refusal.DIFFERENT_INPUTS
    if reply.reply.output_hash == other.reply.output_hash:
        return Refusal.OUTPUTS_EQUAL
    return None


async def _fact_refusal(report: CheatReport, judge: Judge) -> Refusal | None:
    output = report.fact_output
    split = _input_length(output)
    if split is None:
        return Refusal.MALFORMED_OUTPUT
    fact = fact_hash(report.header.header.program_hash, list(output))
    if not await judge.facts.is_valid(fact):
        return Refusal.UNKNOWN_FACT
    if await judge.facts.get_verification(fact) < judge.min_security_bits:
        return Refusal.WEAK_FACT
    reply = report.reply.reply
    if felts_digest(output[1:split + 1]) != reply.input_hash:
        return Refusal.INPUT_DIGEST_DIFFERS
    if felts_digest(output[split + 1:]) == reply.output_hash:
        return Refusal.OUTPUTS_EQUAL
    return None


def _input_length(output: Sequence[int]) -> int | None:
    """n of a streaming run's output `[n, input (n felts), output...]`, None if malformed."""
    if not output or output[0] >= min(len(output), MAX_INPUT_FELTS):
        return None
    return output[0]
