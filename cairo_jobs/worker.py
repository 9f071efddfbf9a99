"""A pool worker process: reads run requests on stdin, answers on the original stdout.

Started by `RunnerPool` as `python -m cairo_jobs.worker`. Program hints and cairo-lang print to
stdout, so the protocol moves to a private copy of fd 1 and fd 1 is pointed at stderr. Each run
gets an address-space cap. After a MemoryError, or once it holds more than RETIRE_RSS, the
worker answers with "retire" set and exits; the pool starts a clean one.
"""

from __future__ import annotations

import contextlib
import os
import resource
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from typing import Any, BinaryIO

from cairo_jobs import wire
from cairo_jobs.failures import FailureReason, RunFailure
from cairo_jobs.model import ProgressCallback, RunRequest
from cairo_jobs.vm import execute, memory_limit_failure

PARENT_CHECK_S = 0.5

# Python keeps the memory a big run used; a worker this large retires and is replaced.
RETIRE_RSS = 1024**3


def main() -> int:
    _exit_with_parent()
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    protocol_in = sys.stdin.buffer
    _send(protocol_out, {"ready": os.getpid()})
    while (message := wire.read_frame(protocol_in)) is not None:
        reply, retire = handle(message, lambda steps: _send(protocol_out, {"progress": steps}))
        retire = retire or _resident_bytes() > RETIRE_RSS
        _send(protocol_out, {**reply, "retire": retire})
        if retire:
            return 0
    return 0


def handle(message: dict[str, Any], on_progress: ProgressCallback) -> tuple[dict[str, Any], bool]:
    """Runs one request; returns the reply and whether this worker must retire (exit) after it."""
    try:
        request = RunRequest.from_wire(message)
        with _address_space_cap(request.memory_cap):
            result = execute(request, on_progress)
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


def _exit_with_parent() -> None:
    """Exits this worker, even mid-run, once the process that owns the pool is gone."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


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


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def _address_space_now() -> int:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[0])
    return pages * os.sysconf("SC_PAGE_SIZE")


def _send(stream: BinaryIO, message: dict[str, Any]) -> None:
    stream.write(wire.encode(message))
    stream.flush()


if __name__ == "__main__":
    sys.exit(main())
