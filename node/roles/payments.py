"""Payments as the Registry's JobCompleted events show them."""

from __future__ import annotations

from dataclasses import dataclass

from node.roles.services import Services
from registry_contract.events import EventCursor, EventRecord, JobCompleted, read_events


@dataclass(frozen=True)
class Payment:
    """A job paid by the Registry: to whom, how much, for which output, in which transaction."""

    job_hash: int
    executor: int
    reward: int
    output: tuple[int, ...]
    """Empty when the output stayed off chain (output volumes)."""
    output_digest: int
    """poseidon(output), which the Registry paid on."""
    transaction_hash: int


def payment_in(record: EventRecord) -> Payment | None:
    """The payment an event record shows, if it is a JobCompleted."""
    event = record.event
    if not isinstance(event, JobCompleted):
        return None
    return Payment(event.job_hash, event.executor, event.reward, event.output,
                   event.output_digest, record.transaction_hash)


async def read_payments(
    services: Services, cursor: EventCursor
) -> tuple[list[Payment], EventCursor]:
    """The payments in the next page of Registry events from `cursor`, and the next cursor."""
    records, after = await services.chain(
        read_events, services.registry.account.client, services.registry.address, cursor
    )
    return [p for p in map(payment_in, records) if p is not None], after


async def find_payment(services: Services, job_hash: int) -> Payment | None:
    """The payment of `job_hash`, searched from the first block to the newest."""
    cursor = EventCursor()
    while True:
        payments, after = await read_payments(services, cursor)
        for payment in payments:
            if payment.job_hash == job_hash:
                return payment
        if after == cursor:
            return None
        cursor = after


def record_payment(services: Services, key: int, payment: Payment) -> None:
    """Record in the store that the Registry paid the delegated job `key`: from `published`
    or `bidding` (paid after its window) through `assigned`, then `submitted` and `paid`."""
    state = services.store.get(key).state
    if state == "published":
        services.transition(key, "bidding", "header published")
    if state in ("published", "bidding"):
        services.transition(key, "assigned", "paid after its window", executor=payment.executor)
    services.transition(key, "submitted", "JobCompleted seen", executor=payment.executor,
                        output=payment.output)
    services.mark_paid(key, payment.transaction_hash)
