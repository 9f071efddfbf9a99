"""Taking a trio lock without a pass through the scheduler when nobody holds it."""

from __future__ import annotations

import trio


async def acquire(lock: trio.Lock) -> None:
    """Take `lock`, passing through the scheduler only if another task holds it.

    `async with lock` yields to the scheduler on every acquire (a checkpoint), even when the
    lock is free: one task switch per frame or message written.
    """
    try:
        lock.acquire_nowait()
    except trio.WouldBlock:
        await lock.acquire()


class QuickLock:
    """A trio.Lock as an async context manager that passes through the scheduler only when
    another task holds it (py-libp2p's NetStream takes its state lock on every read and
    write)."""

    def __init__(self) -> None:
        self._lock = trio.Lock()

    async def __aenter__(self) -> None:
        await acquire(self._lock)

    async def __aexit__(self, *exc_info: object) -> None:
        self._lock.release()

    def locked(self) -> bool:
        """Whether a task holds the lock."""
        return self._lock.locked()
