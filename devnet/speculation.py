"""The devnet's side of the `__validate__` worker (`devnet.validate_worker`).

`ValidateWorker` starts the worker process with a snapshot of a `ChainState`, feeds it every
change of that state (as a watcher, in order), sends it validate requests and waits for their
answers. An answer counts only if it names the (token, version) of the devnet's state; a
mismatch, a crash, a timeout or an error raises `WorkerFailed`, and the worker is restarted in a
background thread while the devnet goes on validating itself.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from starkware.starknet.business_logic.state.state_api_objects import BlockInfo

from devnet.classes import DeclaredClass
from devnet.errors import WorkerFailed
from devnet.state import ChainState
from devnet.state_diff import StateDiff
from devnet.transactions import Transaction
from devnet.validate_worker import ValidateAnswer, ValidateRequest, serve

logger = logging.getLogger(__name__)

ANSWER_TIMEOUT_S = 2.0  # an answer later than this (validate takes ~35 ms) counts as a failure
STOP_TIMEOUT_S = 5.0
# The first worker is forked from the devnet while it still runs a single thread (no imports to
# pay); later ones, once the devnet runs threads, from a server process that imported the
# worker's modules once (~3 s of CPU, then a fork and a snapshot per restart).
FORK = multiprocessing.get_context("fork")
FORKSERVER = multiprocessing.get_context("forkserver")
FORKSERVER.set_forkserver_preload(["devnet.validate_worker"])


@dataclass
class _Process:
    """One worker process and its channels."""

    process: BaseProcess
    requests: Any  # multiprocessing Queue (its feeder thread never blocks the devnet)
    replies: Connection
    ready: bool = False


class ValidateWorker:
    """A `__validate__` worker process holding a replica of the devnet's chain state."""

    def __init__(self, state: ChainState, chain_id: Any, fee_token: int) -> None:
        self.chain_id = chain_id
        self.fee_token = fee_token
        self.state = state
        self._ids = itertools.count(1)
        self._current: _Process | None = None
        self.attach(state)

    def attach(self, state: ChainState) -> None:
        """Serve `state` (a newly loaded chain's): watch it and start a worker on its snapshot."""
        if self.state is not state and self._watch in self.state.watchers:
            self.state.watchers.remove(self._watch)
        self.state = state
        if self._watch not in state.watchers:
            state.watchers.append(self._watch)
        self.restart("attached")

    def _watch(self, version: int, diff: StateDiff, classes: tuple[DeclaredClass, ...]) -> None:
        if self._current is not None:
            self._current.requests.put(("change", version, diff, classes))

    def restart(self, reason: str) -> None:
        """Replace the worker by a new one on a snapshot of the state (started in the
        background once the devnet runs threads); changes from now on queue up for it."""
        old, state = self._current, self.state
        single_thread = threading.active_count() == 1
        context = FORK if single_thread else FORKSERVER
        replies, child_end = context.Pipe(duplex=False)
        requests = context.Queue()
        process = context.Process(
            target=serve, name="devnet-validate", daemon=True,
            args=(state.to_json(), state.token, state.version, self.chain_id, self.fee_token,
                  requests, child_end))
        self._current = _Process(process, requests, replies)
        logger.info("validate worker starting", extra={"reason": reason,
                                                      "version": state.version})
        if single_thread:
            _replace(old, process, child_end)
            return
        threading.Thread(target=_replace, args=(old, process, child_end),
                         name="devnet-validate-start", daemon=True).start()

    def submit(self, tx: Transaction, block_info: BlockInfo) -> int | None:
        """Send a validate request for the current state; None if no worker is ready."""
        current = self._current
        if current is None or not self.ready():
            return None
        request_id = next(self._ids)
        current.requests.put(("validate", ValidateRequest(
            request_id, self.state.token, self.state.version, tx, block_info)))
        return request_id

    def answer(self, request_id: int) -> ValidateAnswer:
        """The worker's answer to `request_id` for the current state; WorkerFailed (and a
        restart) if it crashed, timed out, erred or answered for another state."""
        current = self._current
        assert current is not None
        try:
            answer = self._receive(current, request_id)
        except WorkerFailed as failure:
            logger.warning("validate worker failed; validating in the devnet",
                           extra={"reason": failure.reason})
            self.restart(failure.reason)
            raise
        return answer

    def _receive(self, current: _Process, request_id: int) -> ValidateAnswer:
        while True:
            ready = wait([current.replies, current.process.sentinel], ANSWER_TIMEOUT_S)
            if not ready:
                raise WorkerFailed("worker timeout")
            if current.replies not in ready:
                raise WorkerFailed("worker crashed")
            try:
                answer = current.replies.recv()
            except (EOFError, OSError) as exc:
                raise WorkerFailed("worker crashed") from exc
            if answer.request_id != request_id:
                continue  # the answer to a request given up on
            if answer.error is not None:
                raise WorkerFailed("worker error")
            if (answer.token, answer.version) != (self.state.token, self.state.version):
                raise WorkerFailed("replica version")
            return answer

    def ready(self) -> bool:
        """Whether a worker has started and announced itself (it takes a few seconds)."""
        return self._current is not None and self._is_ready(self._current)

    def _is_ready(self, current: _Process) -> bool:
        if not current.ready and current.replies.poll():
            try:
                current.ready = current.replies.recv()[0] == "ready"
            except (EOFError, OSError):
                self.restart("worker crashed")
        return current.ready

    def stop(self) -> None:
        """Stop the worker (bounded: killed if it does not exit in time)."""
        current, self._current = self._current, None
        if current is not None:
            current.requests.put(("stop",))
            _end(current.process)
        if self._watch in self.state.watchers:
            self.state.watchers.remove(self._watch)

    @property
    def pid(self) -> int | None:
        """The current worker's process id (None until it is started)."""
        return self._current.process.pid if self._current is not None else None


def _replace(old: _Process | None, process: BaseProcess, child_end: Connection) -> None:
    """Kill the old worker, if any, and start the new one (on a background thread)."""
    if old is not None:
        old.process.kill()
        old.process.join(STOP_TIMEOUT_S)
        old.requests.cancel_join_thread()
    try:
        process.start()
    except OSError as exc:  # the devnet validates every invoke itself until the next restart
        logger.error("validate worker not started: check the process limit and free memory",
                     extra={"error": str(exc)})
        return
    finally:
        child_end.close()
    logger.info("validate worker started", extra={"pid": process.pid})


def _end(process: BaseProcess) -> None:
    if process.pid is None:
        return
    process.join(STOP_TIMEOUT_S)
    if process.is_alive():
        process.kill()
        process.join(STOP_TIMEOUT_S)
