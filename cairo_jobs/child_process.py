"""Running a helper program (a prover, a verifier) as a child process bounded in time."""

from __future__ import annotations

from collections.abc import Callable

import trio

OUTPUT_CHARS = 2000  # how much of a failed child's output goes into the error


async def run_bounded(
    args: list[str],
    timeout: float,
    on_timeout: Callable[[], Exception],
    on_failure: Callable[[int, str], Exception],
) -> None:
    """Runs `args` to completion. Past `timeout` seconds the child is killed and on_timeout()
    is raised; a non-zero exit raises on_failure(exit status, the end of stderr or stdout)."""
    try:
        with trio.fail_after(timeout):
            done = await trio.run_process(
                args, capture_stdout=True, capture_stderr=True, check=False
            )
    except trio.TooSlowError:
        raise on_timeout() from None
    if done.returncode != 0:
        output = (done.stderr or done.stdout).decode(errors="replace").strip()[-OUTPUT_CHARS:]
        raise on_failure(done.returncode, output or "no output")
