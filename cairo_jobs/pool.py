"""`RunnerPool`: runs Cairo jobs from trio code in a bounded set of worker processes.

Each run gets its own worker for its whole duration. A run that exceeds its timeout, is
cancelled, or whose worker dies (crash, SIGKILL, memory cap) costs only that worker: it is
killed and a fresh one is started for the next run, so the pool keeps serving.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from collections import Counter
from typing import Any

import trio

from cairo_jobs import wire
from cairo_jobs.failures import FailureReason, RunFailure
from cairo_jobs.model import RunRequest, RunResult

log = logging.getLogger("cairo_jobs.pool")

WORKER_START_TIMEOUT_S = 60.0


class _Worker:
    """One worker process and the framing of its pipes."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self._buffer = bytearray()

    @classmethod
    async def start(cls, python: str) -> _Worker:
        process = await trio.lowlevel.open_process(
            [python, "-m", "cairo_jobs.worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        worker = cls(process)
        with trio.move_on_after(WORKER_START_TIMEOUT_S):
            if await worker.receive() is not None:
                return worker
        await worker.kill()
        raise RunFailure(
            FailureReason.WORKER_CRASHED,
            f"a worker process did not start ({python} -m cairo_jobs.worker); "
            "check that cairo-lang imports in this Python",
        )

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    async def call(self, frame: bytes) -> dict[str, Any] | None:
        """Sends one request frame and waits for the reply; None when the worker died."""
        try:
            await self.process.stdin.send_all(frame)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return None
        return await self.receive()

    async def receive(self) -> dict[str, Any] | None:
        """The next frame from the worker; None at end of stream."""
        if not await self._fill(wire.HEADER.size):
            return None
        size = wire.payload_size(bytes(self._buffer[: wire.HEADER.size]))
        if not await self._fill(wire.HEADER.size + size):
            return None
        payload = bytes(self._buffer[wire.HEADER.size : wire.HEADER.size + size])
        del self._buffer[: wire.HEADER.size + size]
        return wire.decode(payload)

    async def _fill(self, size: int) -> bool:
        while len(self._buffer) < size:
            try:
                chunk = await self.process.stdout.receive_some(1 << 16)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return False
            if not chunk:
                return False
            self._buffer += chunk
        return True

    async def kill(self) -> int:
        """Kills the process (if still running) and returns its exit status."""
        with trio.CancelScope(shield=True):
            if self.alive:
                self.process.kill()
            status = await self.process.wait()
            await self.process.stdin.aclose()
            await self.process.stdout.aclose()
        return status


class RunnerPool:
    """Runs `RunRequest`s in at most `workers` processes; use as `async with RunnerPool(2)`."""

    def __init__(self, workers: int = 2, *, python: str = sys.executable) -> None:
        if workers < 1:
            raise ValueError("a pool needs at least one worker")
        self.workers = workers
        self._python = python
        self._slots = trio.Semaphore(workers)
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._closed = False
        self.counters: Counter[str] = Counter()

    async def __aenter__(self) -> RunnerPool:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Starts every worker now, so that the first runs do not pay the start-up cost."""
        async with trio.open_nursery() as nursery:
            for _ in range(self.workers - len(self._idle)):
                nursery.start_soon(self._start_idle_worker)

    async def run(self, request: RunRequest) -> RunResult:
        """Runs one request; raises `RunFailure` when it fails, the pool serving on regardless."""
        frame = _request_frame(request)
        async with self._slots:
            worker = await self._checkout()
            try:
                reply = await self._call(worker, frame, request.timeout)
            except BaseException:
                await self._discard(worker)
                raise
            if "error" not in reply:
                self._checkin(worker)
            else:
                failure = RunFailure.from_wire(reply["error"])
                if failure.reason is FailureReason.MEMORY_LIMIT:
                    await self._discard(worker)  # It exits after a MemoryError.
                else:
                    self._checkin(worker)
                raise self._count_failure(failure)
        result = RunResult.from_wire(reply["result"])
        self.counters["runs_ok"] += 1
        log.info(
            "cairo run finished",
            extra={
                "steps": result.steps,
                "program_hash": hex(result.program_hash),
                "seconds": round(result.timings.total, 3),
                "proof_mode": request.proof_mode,
            },
        )
        return result

    async def aclose(self) -> None:
        """Kills every worker; later runs fail with POOL_CLOSED."""
        self._closed = True
        workers = [*self._idle, *self._busy]
        self._idle.clear()
        for worker in workers:
            await worker.kill()

    async def _call(self, worker: _Worker, frame: bytes, timeout: float) -> dict:
        with trio.move_on_after(timeout):
            try:
                reply = await worker.call(frame)
            except wire.FrameError as err:
                await worker.kill()
                raise self._count_failure(
                    RunFailure(
                        FailureReason.WORKER_CRASHED,
                        f"the worker broke the pipe protocol ({err}); the pool has replaced it",
                    )
                ) from None
            if reply is not None:
                return reply
            status = await worker.kill()
            raise self._count_failure(self._crash_failure(status))
        raise self._count_failure(
            RunFailure(
                FailureReason.TIMEOUT,
                f"the run took longer than its timeout of {timeout:g} s and was stopped; "
                "raise the timeout or shrink the input",
            )
        )

    def _crash_failure(self, status: int) -> RunFailure:
        if self._closed:
            return RunFailure(FailureReason.POOL_CLOSED, "the pool was closed during the run")
        cause = f"signal {signal.Signals(-status).name}" if status < 0 else f"exit status {status}"
        return RunFailure(
            FailureReason.WORKER_CRASHED,
            f"the worker process died during the run ({cause}); the pool has replaced it, "
            "retry the job, and if it fails again, lower memory_cap or check the program",
        )

    async def _checkout(self) -> _Worker:
        if self._closed:
            raise RunFailure(FailureReason.POOL_CLOSED, "the pool is closed; open a new one")
        worker = await self._pop_live_idle() or await self._start_worker()
        self._busy.add(worker)
        return worker

    async def _pop_live_idle(self) -> _Worker | None:
        while self._idle:
            worker = self._idle.pop()
            if worker.alive:
                return worker
            await self._discard(worker)  # Killed or crashed while idle.
        return None

    def _checkin(self, worker: _Worker) -> None:
        self._busy.discard(worker)
        self._idle.append(worker)

    async def _discard(self, worker: _Worker) -> None:
        self._busy.discard(worker)
        await worker.kill()
        self.counters["worker_restarts"] += 1

    async def _start_idle_worker(self) -> None:
        self._idle.append(await self._start_worker())

    async def _start_worker(self) -> _Worker:
        worker = await _Worker.start(self._python)
        log.debug("cairo worker started", extra={"pid": worker.process.pid})
        return worker

    def _count_failure(self, failure: RunFailure) -> RunFailure:
        self.counters[f"runs_failed_{failure.reason.value}"] += 1
        log.warning(
            "cairo run failed", extra={"reason": failure.reason.value, "detail": failure.message}
        )
        return failure


def _request_frame(request: RunRequest) -> bytes:
    try:
        return wire.encode(request.to_wire())
    except (wire.FrameError, TypeError, ValueError) as err:
        raise RunFailure(
            FailureReason.BAD_REQUEST,
            f"the request cannot be sent to a worker ({err}); program input must be plain JSON",
        ) from None
