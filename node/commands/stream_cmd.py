"""`node delegate PROGRAM --stream`: a streaming job, its requests from stdin, replies on stdout.

The job is published and assigned as any job (its body's input is `STREAM_INPUT`); once
assigned, the client opens the session with the executor and sends each stdin line, a JSON list
of felts, as one request. Each checked reply is one JSON line on stdout: `{"input", "output",
"time_from_ms", "time_to_ms", "verified": true}`. A line that is not a request, a request the
executor refuses and a reply the client rejects (forged, another job, clock skew beyond
`stream.skew_ms`) are reported on stderr and the session goes on. At the end of stdin the
session is closed; the command waits for the job to be paid and checks that the paid output is
the commitment to its own log.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from cairo_jobs.streaming import STREAM_INPUT_BYTES
from node.config import Config
from node.errors import PartialResult, UserError
from node.roles.delegator import Delegator, JobSpec, Outcome, Progress
from node.roles.services import Services
from node.stream_client import Rejected, StreamClient, StreamJob, open_session
from p2p import params
from p2p.signing import KnownPublicKeys
from p2p.stark import STARK_PRIME
from p2p.stream import StreamFailure, StreamRefused

SETTLE_TIME_S = 120.0
"""Time after a session's end for its settle run, the validator's fact and the payment."""

Runner = Callable[[Callable[[], Awaitable[None]], dict[str, Any]], dict[str, Any]]


def delegate_stream(args: argparse.Namespace, config: Config, program: bytes, progress: Progress,
                    run: Runner) -> dict[str, Any]:
    """Run `node delegate --stream`; the outcome with `log_matches`, or PartialResult."""
    from node.registry_access import read_token
    from node.roles.services import open_services

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
            ended.update(await _delegate_and_stream(services, delegator, spec, progress))
            nursery.cancel_scope.cancel()

    run(main, {})
    if "outcome" not in ended:
        raise UserError("interrupted before the job ended; see `node jobs` for its state")
    return _result(ended["outcome"], ended.get("expected"), time.monotonic() - started)


async def _delegate_and_stream(services: Services, delegator: Delegator, spec: JobSpec,
                               progress: Progress) -> dict[str, Any]:
    assignee: dict[str, Any] = {}
    assigned, ended = trio.Event(), {}

    def track(step: str, details: dict[str, Any]) -> None:
        progress(step, details)
        assignee.setdefault(step, details)
        if step == "assigned" and "executor" in details:
            assigned.set()

    async def follow() -> None:
        ended["outcome"] = await delegator.delegate(spec, track, wait=True)
        assigned.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(follow)
        await assigned.wait()
        if "outcome" not in ended:
            job = StreamJob(int(assignee["published"]["job"], 16),
                            int(assignee["assigned"]["executor"], 16), services.network.chain_id)
            ended["expected"] = await _session(services, delegator, job, progress)
    return ended


async def _session(services: Services, delegator: Delegator, job: StreamJob,
                   progress: Progress) -> list[int] | None:
    """Stream stdin's requests to the executor; the expected paid output (None: no session)."""
    settings = services.config.stream
    peer = delegator.bidder_peers.get(job.executor)
    public_key = await services.keys.ensure(job.executor)
    if peer is None or public_key is None:
        progress("session_failed", {"error": "the assigned executor's peer or key is unknown"})
        return None
    checker = KnownPublicKeys({job.executor: public_key})
    try:
        async with open_session(services.p2p.host, peer, job, checker,
                                skew_ms=settings.skew_ms,
                                request_timeout=settings.request_timeout) as client:
            progress("session", {"executor": hex(job.executor),
                                 "session_key": hex(client.session.session_key),
                                 "expires_at": client.session.expires_at})
            await _send_stdin(client, progress)
    except (Rejected, StreamRefused, StreamFailure) as error:
        progress("session_failed", {"error": str(error)})
        return None
    progress("closed", {"requests": len(client.log)})
    return client.expected_output()


async def _send_stdin(client: StreamClient, progress: Progress) -> None:
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


def _result(outcome: Outcome, expected: list[int] | None, seconds: float) -> dict[str, Any]:
    described: dict[str, Any] = {"job": hex(outcome.job_hash), "state": outcome.state,
                                 "seconds": round(seconds, 2)}
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
