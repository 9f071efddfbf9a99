"""A pool worker process: reads run requests on stdin, answers on the original stdout.

Started by `RunnerPool` as `python -m cairo_jobs.worker`. Program hints and cairo-lang print to
stdout, so the protocol moves to a private copy of fd 1 and fd 1 is pointed at stderr. Each run
gets an address-space cap; after a MemoryError the worker answers and exits, so that the pool
starts a clean one.
"""

from __future__ import annotations

import contextlib
import os
import resource
import sys
import traceback
from collections.abc import Iterator
from typing import Any, BinaryIO

from cairo_jobs import wire
from cairo_jobs.failures import FailureReason, RunFailure
from cairo_jobs.model import RunRequest
from cairo_jobs.vm import execute, memory_limit_failure


def main() -> int:
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    protocol_in = sys.stdin.buffer
    _send(protocol_out, {"ready": os.getpid()})
    while (message := wire.read_frame(protocol_in)) is not None:
        reply, must_exit = handle(message)
        _send(protocol_out, reply)
        if must_exit:
            return 0
    return 0


def handle(message: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Runs one request; returns the reply and whether this worker must exit afterwards."""
    try:
        request = RunRequest.from_wire(message)
        with _address_space_cap(request.memory_cap):
            result = execute(request)
    except RunFailure as failure:
        return {"error": failure.to_wire()}, failure.reason is FailureReason.MEMORY_LIMIT
    except MemoryError:
        return {"error": memory_limit_failure(message.get("memory_cap", 0)).to_wire()}, True
    except Exception as err:  # Last resort: any other error fails this run, not the worker.
        traceback.print_exc(file=sys.stderr)
        failure = RunFailure(
            FailureReason.EXECUTION_ERROR,
            f"the run failed unexpectedly ({type(err).__name__}: {err}); check the program",
        )
        return {"error": failure.to_wire()}, False
    return {"result": result.to_wire()}, False


@contextlib.contextmanager
def _address_space_cap(extra: int) -> Iterator[None]:
    """Limits this process's address space to its current size plus `extra` bytes."""
    saved = resource.getrlimit(resource.RLIMIT_AS)
    soft, hard = _address_space_now() + extra, saved[1]
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, saved)


def _address_space_now() -> int:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[0])
    return pages * os.sysconf("SC_PAGE_SIZE")


def _send(stream: BinaryIO, message: dict[str, Any]) -> None:
    stream.write(wire.encode(message))
    stream.flush()


if __name__ == "__main__":
    sys.exit(main())
