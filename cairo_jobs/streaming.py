"""The streaming program convention: how one request and a session's settle run talk to Cairo.

A streaming program is a Cairo 0 program that answers ONE request per run: its input is
`{"request": [felt, ...]}` and its output `n, in_1..in_n, out_1..out_m` (the request echoed with
its length, then the reply). Run with `{"requests": [[felt, ...], ...]}` (the settle run), it
answers every request again and writes `[count, commitment]`, where `commitment` chains the
Pedersen hashes of each (request, reply) pair (`log_commitment`): the one output a session's
witness pays for, which the client recomputes from its own log.

A streaming job's body carries the program and `STREAM_INPUT` as its program input: that is how
an executor knows the job is a session rather than one run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from fast_stark_crypto import pedersen_hash

from cairo_jobs.failures import FailureReason, RunFailure

STREAM_INPUT: dict[str, Any] = {"zetina_stream": 1}
"""The program input of a streaming job's body (the body is never run as it is)."""

STREAM_INPUT_BYTES = json.dumps(STREAM_INPUT, separators=(",", ":"), sort_keys=True).encode()

Exchange = tuple[Sequence[int], Sequence[int]]
"""One request's input felts and its reply's output felts."""


def is_stream_input(program_input: bytes) -> bool:
    """Whether a job body's program input marks a streaming job."""
    try:
        return bool(json.loads(program_input) == STREAM_INPUT)
    except (ValueError, TypeError, RecursionError):
        return False


def request_input(felts: Sequence[int]) -> dict[str, Any]:
    """The program input of one request."""
    return {"request": list(felts)}


def settle_input(log: Iterable[Sequence[int]]) -> dict[str, Any]:
    """The program input of the settle run over a session's requests, in order."""
    return {"requests": [list(felts) for felts in log]}


def reply_of(request: Sequence[int], output: Sequence[int]) -> list[int]:
    """The reply felts of a one-request run's output; RunFailure if the output does not echo
    `request` as the convention requires."""
    n = len(request)
    if len(output) < n + 1 or output[0] != n or list(output[1 : n + 1]) != list(request):
        raise RunFailure(
            FailureReason.BAD_INPUT,
            "the program's output does not start with the request echoed with its length: "
            "is it a streaming program (see cairo_jobs/streaming.py)?",
        )
    return list(output[n + 1 :])


def felts_hash(felts: Sequence[int]) -> int:
    """Cairo's `hash_felts`: H(...H(H(0, x_1), x_2)..., n) with the Pedersen hash."""
    digest = 0
    for value in felts:
        digest = pedersen_hash(digest, value)
    return pedersen_hash(digest, len(felts))


def log_commitment(log: Iterable[Exchange]) -> list[int]:
    """The settle run's output for a request log: [count, c] with c_0 = 0 and
    c_i = pedersen(c_(i-1), pedersen(H(in_i), H(out_i)))."""
    count, chain = 0, 0
    for request, reply in log:
        chain = pedersen_hash(chain, pedersen_hash(felts_hash(request), felts_hash(reply)))
        count += 1
    return [count, chain]
