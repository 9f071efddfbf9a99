"""Async client of the Registry and FactRegistry contracts over starknet-py.

Works against any Starknet JSON-RPC node (the embedded devnet, starknet-devnet, Katana, Sepolia):
transactions are v3 invokes with estimated fees, views are plain calls. A contract's refusal
raises `Refused` carrying the contract's exact message, so callers can branch on it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from starknet_py.hash.selector import get_selector_from_name
from starknet_py.net.account.account import Account
from starknet_py.net.client import Client
from starknet_py.net.client_errors import ClientError
from starknet_py.net.client_models import (
    Call,
    ResourceBoundsMapping,
    TransactionExecutionStatus,
    TransactionFinalityStatus,
    TransactionReceipt,
)
from starknet_py.transaction_errors import TransactionNotReceivedError, TransactionRevertedError

from cairo_jobs.facts import fact_hash, fact_of_digest
from p2p.messages import (
    Assignment,
    CheatReport,
    JobHeader,
    SignedAssignment,
    SignedJobHeader,
    StreamReply,
    StreamSession,
)
from registry_contract import TX_POLL_INTERVAL_S, TX_WAIT_RETRIES
from registry_contract.classes import contract_abi

logger = logging.getLogger(__name__)


class Refusal(str, Enum):
    """Every message with which the contracts refuse a transaction."""

    WRONG_CHAIN = "Registry: wrong chain"
    WRONG_REGISTRY = "Registry: wrong registry"
    BAD_SIGNATURE = "Registry: bad signature"
    ALREADY_PAID = "Registry: already paid"
    DEADLINE_PASSED = "Registry: deadline passed"
    WRONG_ASSIGNMENT_JOB = "Registry: wrong assignment job"
    BAD_ASSIGNMENT_SIGNATURE = "Registry: bad assignment sig"
    ASSIGNED_TO_OTHER = "Registry: assigned to other"
    UNKNOWN_FACT = "Registry: unknown fact"
    WEAK_FACT = "Registry: weak fact"
    ESCROW_TOO_LOW = "Registry: escrow too low"
    ZERO_AMOUNT = "Registry: zero amount"
    AMOUNT_OVER_AVAILABLE = "Registry: amount over available"
    NOTHING_PENDING = "Registry: nothing pending"
    WITHDRAWAL_LOCKED = "Registry: withdrawal locked"
    TRANSFER_FAILED = "Registry: transfer failed"
    AMOUNT_OVER_STAKE = "Registry: amount over stake"
    NO_UNSTAKE_PENDING = "Registry: no unstake pending"
    UNSTAKE_LOCKED = "Registry: unstake locked"
    WRONG_SESSION_JOB = "Registry: wrong session job"
    BAD_SESSION_SIGNATURE = "Registry: bad session sig"
    WRONG_REPLY_JOB = "Registry: wrong reply job"
    BAD_REPLY_SIGNATURE = "Registry: bad reply sig"
    ALREADY_REPORTED = "Registry: already reported"
    MALFORMED_OUTPUT = "Registry: malformed output"
    INPUT_DIGEST_DIFFERS = "Registry: input digest differs"
    OUTPUTS_EQUAL = "Registry: outputs equal"
    DIFFERENT_INPUTS = "Registry: different inputs"
    NOT_A_VERIFIER = "FactRegistry: not a verifier"
    NOT_THE_OWNER = "FactRegistry: not the owner"
    ZERO_VERIFIER = "FactRegistry: zero verifier"
    INSUFFICIENT_ALLOWANCE = "ERC20: insufficient allowance"
    INSUFFICIENT_BALANCE = "ERC20: insufficient balance"


class Refused(Exception):
    """The contract refused the transaction; `refusal` is its message.

    `transaction_hash` is set when the refused transaction was sent and reverted on chain (its
    fee was paid); it is None when the node refused it while estimating the fee.
    """

    def __init__(self, refusal: Refusal, transaction_hash: int | None = None) -> None:
        super().__init__(f"refused: {refusal.value}")
        self.refusal = refusal
        self.transaction_hash = transaction_hash


def refusal_in(text: str) -> Refusal | None:
    """The contract refusal a node's error or revert reason reports, if any."""
    found = [refusal for refusal in Refusal if f"'{refusal.value}'" in text]
    return found[-1] if found else None


@dataclass(frozen=True)
class JobState:
    """Whether a job was paid: `executor` is 0 while unpaid; `paid_at` is a block timestamp."""

    executor: int
    paid_at: int

    @property
    def paid(self) -> bool:
        return self.executor != 0


@dataclass(frozen=True)
class PendingWithdrawal:
    """An amount set aside for withdrawal (or unstaking) and the block time it unlocks at ((0, 0)
    if none)."""

    amount: int
    unlock_at: int


def check_amount(amount: int) -> None:
    """Raise ValueError unless `amount` is a token amount (a u256)."""
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount < 2**256:
        raise ValueError(f"amount {amount!r} is not a u256 (an int in [0, 2**256))")


def header_arg(header: JobHeader) -> dict[str, Any]:
    """A job header as the contract's `JobHeader` struct."""
    return {
        "chain_id": header.chain_id, "registry": header.registry, "delegator": header.delegator,
        "body_id": int.from_bytes(header.body_id, "big"), "program_hash": header.program_hash,
        "max_steps": header.max_steps, "reward": header.reward, "deadline": header.deadline,
        "nonce": header.nonce,
    }


def assignment_arg(assignment: Assignment | None) -> dict[str, Any]:
    """An assignment as the contract's `Assignment` struct (zeros for none)."""
    if assignment is None:
        return {"job_hash": 0, "executor": 0, "window_end": 0, "attempt": 0}
    return {"job_hash": assignment.job_hash, "executor": assignment.executor,
            "window_end": assignment.window_end, "attempt": assignment.attempt}


def session_arg(session: StreamSession) -> dict[str, Any]:
    """A streaming session as the contract's `StreamSession` struct."""
    return {"job_hash": session.job_hash, "executor": session.executor,
            "session_key": session.session_key, "expires_at": session.expires_at}


def reply_arg(reply: StreamReply) -> dict[str, Any]:
    """A stream reply as the contract's `StreamReply` struct (digests as u256s)."""
    return {"job_hash": reply.job_hash, "time_from_ms": reply.time_from_ms,
            "time_to_ms": reply.time_to_ms, "input_hash": int.from_bytes(reply.input_hash, "big"),
            "output_hash": int.from_bytes(reply.output_hash, "big")}


async def send(
    account: Account, calls: Sequence[Call], resource_bounds: ResourceBoundsMapping | None = None
) -> TransactionReceipt:
    """Send `calls` in one v3 invoke (fee estimated unless bounds are given) and wait for it.

    Raises `Refused` when a contract refuses, whether at estimation or on chain.
    """
    try:
        if resource_bounds is None:
            sent = await account.execute_v3(calls=list(calls), auto_estimate=True)
        else:
            sent = await account.execute_v3(calls=list(calls), resource_bounds=resource_bounds)
    except ClientError as error:
        refusal = refusal_in(f"{error.message} {error.data}")
        if refusal is None:
            raise
        raise Refused(refusal) from None
    try:
        return await wait_for_receipt(account.client, sent.transaction_hash)
    except TransactionRevertedError as error:
        refusal = refusal_in(error.message or "")
        if refusal is None:
            raise
        raise Refused(refusal, sent.transaction_hash) from None


TX_NOT_FOUND_CODE = 29
"""The JSON-RPC error of a transaction hash the node does not know (yet)."""

ACCEPTED = (TransactionFinalityStatus.ACCEPTED_ON_L2, TransactionFinalityStatus.ACCEPTED_ON_L1)


async def wait_for_receipt(client: Client, tx_hash: int) -> TransactionReceipt:
    """The receipt of `tx_hash` once it is accepted on L2 (or L1), asked every
    TX_POLL_INTERVAL_S: one request when it already is (starknet-py's `wait_for_tx` asks for
    the status, sleeps, then asks for the receipt).

    Raises TransactionRevertedError when it reverted, TransactionNotReceivedError after
    TX_WAIT_RETRIES tries.
    """
    for _ in range(TX_WAIT_RETRIES):
        try:
            receipt = await client.get_transaction_receipt(tx_hash)
        except ClientError as error:
            if error.code != TX_NOT_FOUND_CODE:
                raise
        else:
            if receipt.finality_status in ACCEPTED:
                if receipt.execution_status == TransactionExecutionStatus.REVERTED:
                    raise TransactionRevertedError(message=receipt.revert_reason or "reverted")
                return receipt
        await asyncio.sleep(TX_POLL_INTERVAL_S)
    raise TransactionNotReceivedError()


class RegistryClient:
    """The Registry seen from one account: its escrow, withdrawals and witness submissions.

    Transactions have their fee estimated first (a refusal then costs nothing), unless
    `resource_bounds` are given: then they are sent as they are and a refusal reverts on chain.
    """

    def __init__(self, account: Account, registry: int, token: int,
                 resource_bounds: ResourceBoundsMapping | None = None) -> None:
        self.account = account
        self.address = registry
        self.token = token
        self.resource_bounds = resource_bounds
        self._abi = contract_abi("registry")

    @classmethod
    async def connect(cls, account: Account, registry: int,
                      resource_bounds: ResourceBoundsMapping | None = None) -> RegistryClient:
        """A client of the Registry at `registry`, with the token it escrows read from chain."""
        token = await contract_abi("registry").view(account.client, registry, "token")
        return cls(account, registry, token, resource_bounds)

    async def deposit(self, amount: int) -> TransactionReceipt:
        """Approve and deposit `amount` of the token into this account's escrow (one tx)."""
        check_amount(amount)
        return await self._invoke(self._approve(amount),
                                  self._abi.call(self.address, "deposit", amount))

    async def request_withdrawal(self, amount: int) -> TransactionReceipt:
        """Set `amount` aside; it can be withdrawn once the registry's delay has passed."""
        check_amount(amount)
        return await self._invoke(self._abi.call(self.address, "request_withdrawal", amount))

    async def withdraw(self) -> TransactionReceipt:
        """Pay out the unlocked pending withdrawal."""
        return await self._invoke(self._abi.call(self.address, "withdraw"))

    async def submit_witness(
        self,
        signed_header: SignedJobHeader,
        output: Sequence[int],
        assignment: SignedAssignment | None = None,
    ) -> TransactionReceipt:
        """Claim the job's reward for `output` (a fact for it must be registered).

        Raises ValueError, sending nothing, if an output value is not a felt.
        """
        fact = fact_hash(signed_header.header.program_hash, list(output))
        call = self._abi.call(
            self.address, "submit_witness", header_arg(signed_header.header),
            list(signed_header.signature),
            assignment_arg(assignment.assignment if assignment else None),
            list(assignment.signature) if assignment else [], list(output))
        receipt = await self._invoke(call)
        logger.info("witness accepted", extra={"tx": hex(receipt.transaction_hash),
                                               "fact": hex(fact)})
        return receipt

    async def submit_witness_digest(
        self,
        signed_header: SignedJobHeader,
        output_digest: int,
        assignment: SignedAssignment | None = None,
    ) -> TransactionReceipt:
        """Claim the job's reward for the output whose digest, `poseidon(output)`, is
        `output_digest` (the output stays off chain; a fact for it must be registered)."""
        fact = fact_of_digest(signed_header.header.program_hash, output_digest)
        call = self._abi.call(
            self.address, "submit_witness_digest", header_arg(signed_header.header),
            list(signed_header.signature),
            assignment_arg(assignment.assignment if assignment else None),
            list(assignment.signature) if assignment else [], output_digest)
        receipt = await self._invoke(call)
        logger.info("witness accepted", extra={"tx": hex(receipt.transaction_hash),
                                               "fact": hex(fact)})
        return receipt

    async def stake(self, amount: int) -> TransactionReceipt:
        """Approve and add `amount` of the token to this account's stake (one tx)."""
        check_amount(amount)
        return await self._invoke(self._approve(amount),
                                  self._abi.call(self.address, "stake", amount))

    async def request_unstake(self, amount: int) -> TransactionReceipt:
        """Set `amount` of the stake aside; it can be unstaked once the registry's delay passed
        (and stays slashable until then)."""
        check_amount(amount)
        return await self._invoke(self._abi.call(self.address, "request_unstake", amount))

    async def unstake(self) -> TransactionReceipt:
        """Pay out the unlocked pending unstake."""
        return await self._invoke(self._abi.call(self.address, "unstake"))

    async def report_cheat(self, report: CheatReport) -> TransactionReceipt:
        """Send a cheat report; the Registry checks it and slashes the executor's stake
        (half of it paid to this account)."""
        evidence = [header_arg(report.header.header), list(report.header.signature),
                    session_arg(report.session.session), list(report.session.signature),
                    reply_arg(report.reply.reply), list(report.reply.signature)]
        if report.other_reply is None:
            call = self._abi.call(self.address, "report_cheat", *evidence,
                                  list(report.fact_output))
        else:
            call = self._abi.call(self.address, "report_contradiction", *evidence,
                                  reply_arg(report.other_reply.reply),
                                  list(report.other_reply.signature))
        receipt = await self._invoke(call)
        executor = report.session.session.executor
        logger.info("cheat report accepted",
                    extra={"tx": hex(receipt.transaction_hash), "executor": hex(executor)})
        return receipt

    async def stake_of(self, executor: int | None = None) -> int:
        """The stake of `executor` (default: this client's account), pending unstake included."""
        return await self._view("stake_of", self._who(executor))

    async def pending_unstake(self, executor: int | None = None) -> PendingWithdrawal:
        """The stake set aside for unstaking and when it unlocks ((0, 0) if none)."""
        amount, unlock_at = await self._view("pending_unstake", self._who(executor))
        return PendingWithdrawal(amount, unlock_at)

    async def felts_digest(self, felts: Sequence[int]) -> bytes:
        """`p2p.messages.felts_digest` as the contract computes it (SHA-256 in Cairo)."""
        return (await self._view("felts_digest", list(felts))).to_bytes(32, "big")

    async def balance_of(self, account: int | None = None) -> int:
        """The escrow of `account` (default: this client's)."""
        return await self._view("balance_of", self._who(account))

    async def available_balance(self, account: int | None = None) -> int:
        """The escrow less the amount pending withdrawal."""
        return await self._view("available_balance", self._who(account))

    async def pending_withdrawal(self, account: int | None = None) -> PendingWithdrawal:
        amount, unlock_at = await self._view("pending_withdrawal", self._who(account))
        return PendingWithdrawal(amount, unlock_at)

    async def job_state(self, job_hash: int) -> JobState:
        state = await self._view("job_state", job_hash)
        return JobState(state["executor"], state["paid_at"])

    async def job_hash(self, header: JobHeader) -> int:
        """The job hash as the contract computes it (equal to `p2p.signing.job_hash`)."""
        return await self._view("job_hash", header_arg(header))

    async def assignment_hash(self, assignment: Assignment, chain_id: int, delegator: int) -> int:
        """The assignment hash as the contract computes it."""
        return await self._view("assignment_hash", assignment_arg(assignment), chain_id, delegator)

    async def setting(self, name: str) -> int:
        """A constructor setting: token, fact_registry, min_security_bits or withdrawal_delay."""
        if name not in REGISTRY_SETTINGS:
            raise ValueError(f"unknown setting {name!r}; one of {', '.join(REGISTRY_SETTINGS)}")
        return await self._view(name)

    def _approve(self, amount: int) -> Call:
        """The token's `approve` of `amount` for the Registry."""
        return Call(to_addr=self.token, selector=get_selector_from_name("approve"),
                    calldata=[self.address, amount % 2**128, amount >> 128])

    def _who(self, account: int | None) -> int:
        return self.account.address if account is None else account

    async def _view(self, function: str, *args: Any) -> Any:
        return await self._abi.view(self.account.client, self.address, function, *args)

    async def _invoke(self, *calls: Call) -> TransactionReceipt:
        return await send(self.account, calls, self.resource_bounds)


REGISTRY_SETTINGS = ("token", "fact_registry", "min_security_bits", "withdrawal_delay")


class FactRegistryClient:
    """The FactRegistry: verifiers register facts, anyone reads their security bits.

    `resource_bounds` as for `RegistryClient`.
    """

    def __init__(self, account: Account, fact_registry: int,
                 resource_bounds: ResourceBoundsMapping | None = None) -> None:
        self.account = account
        self.address = fact_registry
        self.resource_bounds = resource_bounds
        self._abi = contract_abi("fact_registry")

    async def register_fact(self, fact: int, security_bits: int) -> TransactionReceipt:
        """Record `fact` (this account must be a verifier; 0 bits: verified by re-execution).

        The highest bits registered are kept.
        """
        return await self._invoke("register_fact", fact, security_bits)

    async def add_verifier(self, verifier: int) -> TransactionReceipt:
        """Let `verifier` register facts (owner only)."""
        return await self._invoke("add_verifier", verifier)

    async def remove_verifier(self, verifier: int) -> TransactionReceipt:
        """Stop `verifier` from registering facts (owner only)."""
        return await self._invoke("remove_verifier", verifier)

    async def get_verification(self, fact: int) -> int:
        """The highest security bits `fact` was registered with, 0 when unknown."""
        return await self._view("get_verification", fact)

    async def is_valid(self, fact: int) -> bool:
        """Whether any verifier registered `fact` (with any bits, 0 included)."""
        return bool(await self._view("is_valid", fact))

    async def is_verifier(self, account: int) -> bool:
        return bool(await self._view("is_verifier", account))

    async def owner(self) -> int:
        return await self._view("owner")

    async def _view(self, function: str, *args: Any) -> Any:
        return await self._abi.view(self.account.client, self.address, function, *args)

    async def _invoke(self, function: str, *args: Any) -> TransactionReceipt:
        call = self._abi.call(self.address, function, *args)
        return await send(self.account, [call], self.resource_bounds)
