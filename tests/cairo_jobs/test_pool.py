"""The worker pool: limits, crashes, kills and cancellation each cost one run, never the pool."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import trio

from cairo_jobs.examples import compiled
from cairo_jobs.runner import FailureReason, RunFailure, RunnerPool, RunRequest

from .conftest import HINT_MEMORY_BOMB, INFINITE_LOOP, compile_snippet, worker_pids

FIB = compiled("fibonacci")


async def still_serves(pool: RunnerPool) -> None:
    result = await pool.run(RunRequest(program=FIB, program_input={"n": 10}))
    assert result.output == [10, 55]


async def expect_failure(pool: RunnerPool, request: RunRequest, reason: FailureReason) -> str:
    with pytest.raises(RunFailure) as caught:
        await pool.run(request)
    assert caught.value.reason is reason, caught.value
    return caught.value.message


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


async def wait_for_busy_worker(pids: set[int]) -> int:
    """The first of `pids` to burn CPU (idle workers sleep on their pipe)."""
    start = {pid: cpu_ticks(pid) for pid in pids}
    while True:
        await trio.sleep(0.1)
        for pid in pids:
            if cpu_ticks(pid) - start[pid] >= 20:
                return pid


async def test_infinite_loop_hits_the_timeout_and_the_pool_serves_on(tmp_path: Path):
    loop = RunRequest(
        program=compile_snippet(tmp_path, INFINITE_LOOP), max_steps=10**9, timeout=1.5
    )
    async with RunnerPool(workers=1) as pool:
        (before,) = worker_pids()
        message = await expect_failure(pool, loop, FailureReason.TIMEOUT)
        assert "1.5 s" in message
        assert before not in worker_pids(), "the stuck worker was killed"
        await still_serves(pool)
        assert pool.counters["runs_failed_timeout"] == 1


async def test_memory_bomb_hits_the_memory_cap_and_the_pool_serves_on(tmp_path: Path):
    bomb = RunRequest(program=compile_snippet(tmp_path, HINT_MEMORY_BOMB), memory_cap=256 * 2**20)
    async with RunnerPool(workers=1) as pool:
        message = await expect_failure(pool, bomb, FailureReason.MEMORY_LIMIT)
        assert "256 MiB" in message
        await still_serves(pool)


async def test_vm_memory_growth_hits_the_memory_cap(tmp_path: Path):
    loop = RunRequest(
        program=compile_snippet(tmp_path, INFINITE_LOOP),
        max_steps=10**9,
        memory_cap=24 * 2**20,
        timeout=60,
    )
    async with RunnerPool(workers=1) as pool:
        await expect_failure(pool, loop, FailureReason.MEMORY_LIMIT)
        await still_serves(pool)


async def test_sigkill_of_a_busy_worker_is_a_crash_and_the_pool_serves_on(tmp_path: Path):
    loop = RunRequest(program=compile_snippet(tmp_path, INFINITE_LOOP), max_steps=10**9, timeout=60)
    async with RunnerPool(workers=2) as pool:
        idle = worker_pids()
        assert len(idle) == 2
        async with trio.open_nursery() as nursery:
            nursery.start_soon(expect_failure, pool, loop, FailureReason.WORKER_CRASHED)
            victim = await wait_for_busy_worker(idle)
            os.kill(victim, signal.SIGKILL)
        await still_serves(pool)
        await still_serves(pool)
        assert victim not in worker_pids()
        assert pool.counters["runs_failed_worker_crashed"] == 1


async def test_idle_worker_killed_is_replaced_on_the_next_run():
    async with RunnerPool(workers=1) as pool:
        (victim,) = worker_pids()
        os.kill(victim, signal.SIGKILL)
        await trio.sleep(0.2)
        await still_serves(pool)
        assert victim not in worker_pids() and len(worker_pids()) == 1


async def test_cancelling_a_run_kills_its_worker(tmp_path: Path):
    loop = RunRequest(program=compile_snippet(tmp_path, INFINITE_LOOP), max_steps=10**9, timeout=60)
    async with RunnerPool(workers=1) as pool:
        (before,) = worker_pids()
        with trio.move_on_after(1) as scope:
            await pool.run(loop)
        assert scope.cancelled_caught
        assert before not in worker_pids()
        await still_serves(pool)


async def test_bad_requests_each_fail_clearly_and_the_pool_serves_on():
    async with RunnerPool(workers=1) as pool:
        (worker,) = worker_pids()
        for request, reason in [
            (RunRequest(program=b"{not json"), FailureReason.MALFORMED_PROGRAM),
            (RunRequest(program=b"\xff\xfe"), FailureReason.MALFORMED_PROGRAM),
            (RunRequest(program=FIB, program_input={"n": {1, 2}}), FailureReason.BAD_REQUEST),
            (RunRequest(program=FIB, program_input={"m": 1}), FailureReason.HINT_ERROR),
            (
                RunRequest(program=FIB, program_input={"n": 10**5}, max_steps=1000),
                FailureReason.STEP_LIMIT,
            ),
            (
                RunRequest(program=FIB, program_input={"n": 1}, layout="x"),
                FailureReason.UNKNOWN_LAYOUT,
            ),
        ]:
            await expect_failure(pool, request, reason)
            await still_serves(pool)
        assert worker_pids() == {worker}, "ordinary failures do not cost the worker"


async def test_runs_never_use_more_workers_than_the_bound():
    seen: list[int] = []

    async def watch() -> None:
        while True:
            seen.append(len(worker_pids()))
            await trio.sleep(0.05)

    async with RunnerPool(workers=2) as pool, trio.open_nursery() as nursery:
        nursery.start_soon(watch)
        async with trio.open_nursery() as runs:
            for _ in range(5):
                runs.start_soon(still_serves, pool)
        nursery.cancel_scope.cancel()
    assert max(seen) == 2
    assert pool.counters["runs_ok"] == 5


async def test_closed_pool_refuses_runs_and_leaves_no_workers():
    pool = RunnerPool(workers=2)
    await pool.start()
    assert len(worker_pids()) == 2
    await pool.aclose()
    assert worker_pids() == set()
    await expect_failure(pool, RunRequest(program=FIB), FailureReason.POOL_CLOSED)


PIPE_JUNK = """
func main() {
    %{
        import os
        for fd in map(int, os.listdir("/proc/self/fd")):
            try:
                if fd > 2 and os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"):
                    os.write(fd, b"\\xff\\xff\\xff\\xffjunk")
            except OSError:
                pass
    %}
    return ();
}
"""


async def test_worker_writing_junk_on_its_pipe_is_replaced(tmp_path: Path):
    junk = RunRequest(program=compile_snippet(tmp_path, PIPE_JUNK), timeout=30)
    async with RunnerPool(workers=1) as pool:
        (before,) = worker_pids()
        message = await expect_failure(pool, junk, FailureReason.WORKER_CRASHED)
        assert "protocol" in message
        await still_serves(pool)
        assert before not in worker_pids()


async def test_a_hint_that_kills_its_own_worker_is_a_crash(tmp_path: Path):
    source = (
        "func main() {\n    %{\n        import os\n        os._exit(3)\n    %}\n    return ();\n}\n"
    )
    suicide = RunRequest(program=compile_snippet(tmp_path, source))
    async with RunnerPool(workers=1) as pool:
        message = await expect_failure(pool, suicide, FailureReason.WORKER_CRASHED)
        assert "exit status 3" in message
        await still_serves(pool)
