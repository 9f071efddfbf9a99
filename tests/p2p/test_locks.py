"""Locks that pass through trio's scheduler only when another task holds them."""

from __future__ import annotations

import trio

from p2p.locks import QuickLock


async def test_a_free_quick_lock_lets_no_other_task_run_and_a_held_one_waits():
    lock = QuickLock()
    order: list[str] = []

    async def other() -> None:
        order.append("other ran")
        async with lock:
            order.append("other holds the lock")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(other)
        for _ in range(100):  # free: no scheduler pass, so `other` has not started
            async with lock:
                pass
        assert order == []
        async with lock:
            await trio.sleep(0.01)  # `other` starts and waits for the lock
            assert order == ["other ran"] and lock.locked()
    assert order == ["other ran", "other holds the lock"] and not lock.locked()
