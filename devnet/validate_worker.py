"""The `__validate__` worker: a child process holding a replica of the devnet's chain state.

It starts from a snapshot of the state (token and version included), applies every change the
devnet commits, in order, and answers "run `__validate__` of this transaction" with what the
devnet needs to accept the run as its own (`devnet.speculation`): the call info or the refusal,
whether the run wrote state, and every value it read. A request names the (token, version) of the
devnet's state; the answer names the replica's, and the devnet compares them.

Messages on the request queue: `("change", version, diff, classes)`, `("validate", request)`,
`("stop",)`. Answers on the reply pipe: `("ready", token, version)`, then `ValidateAnswer`s.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from starkware.starknet.business_logic.execution.objects import CallInfo
from starkware.starknet.business_logic.state.state import StateCache
from starkware.starknet.business_logic.state.state_api import SyncStateReader
from starkware.starknet.business_logic.state.state_api_objects import BlockInfo
from starkware.starknet.definitions.chain_ids import StarknetChainId
from starkware.starknet.definitions.general_config import StarknetGeneralConfig

from devnet.errors import ValidationFailure
from devnet.sequencer import L1, Sequencer, tx_context
from devnet.state import ChainState
from devnet.transactions import Transaction

logger = logging.getLogger(__name__)

PARENT_CHECK_S = 1.0  # how often an idle worker checks that the devnet still runs


@dataclass(frozen=True)
class ValidateRequest:
    """Run `__validate__` of `tx` in block `block_info` on the state (token, version)."""

    request_id: int
    token: str
    version: int
    tx: Transaction
    block_info: BlockInfo


@dataclass(frozen=True)
class Reads:
    """Every value a run read from the state it started on (cairo-lang's cache initial values)."""

    storage: dict[tuple[int, int], int]
    nonces: dict[int, int]
    class_hashes: dict[int, int]
    compiled_class_hashes: dict[int, int]

    @classmethod
    def from_cache(cls, cache: StateCache) -> Reads:
        return cls(dict(cache._storage_initial_values), dict(cache._nonce_initial_values),
                   dict(cache._class_hash_initial_values),
                   dict(cache._compiled_class_hash_initial_values))

    def hold_in(self, state: SyncStateReader) -> bool:
        """Whether `state` holds every value read."""
        return (all(state.get_storage_at(L1, a, k) == v for (a, k), v in self.storage.items())
                and all(state.get_nonce_at(L1, a) == n for a, n in self.nonces.items())
                and all(state.get_class_hash_at(a) == c for a, c in self.class_hashes.items())
                and all(state.get_compiled_class_hash(c) == cc
                        for c, cc in self.compiled_class_hashes.items()))


@dataclass(frozen=True)
class ValidateAnswer:
    """The outcome of a `ValidateRequest` on the replica (token, version)."""

    request_id: int
    token: str
    version: int
    call_info: CallInfo | None = None
    refusal: str | None = None
    """The ValidationFailure message when `__validate__` refused or failed."""
    wrote: bool = False
    reads: Reads | None = None
    error: str | None = None
    """Anything else that went wrong (the devnet then validates itself)."""
    nanoseconds: int = 0
    """The wall time of the run on the worker."""


def wrote_state(cache: StateCache) -> bool:
    """Whether a run on a view with this cache wrote storage, a nonce or a class."""
    return bool(cache._storage_writes or cache._nonce_writes or cache._class_hash_writes
                or cache._compiled_class_hash_writes)


class Replica:
    """The worker's copy of the chain state and the sequencer that validates on it."""

    def __init__(self, snapshot: dict[str, Any], token: str, version: int,
                 chain_id: StarknetChainId, fee_token: int) -> None:
        self.state = ChainState.from_json(snapshot)
        self.state.token, self.state.version = token, version
        config = StarknetGeneralConfig()
        config.starknet_os_config.chain_id = chain_id
        self.sequencer = Sequencer(self.state, config, fee_token)

    def validate(self, request: ValidateRequest) -> ValidateAnswer:
        """Run `__validate__` of the request's transaction on a fresh view of the replica."""
        state = self.state
        answer = {"request_id": request.request_id, "token": state.token,
                  "version": state.version}
        if (request.token, request.version) != (state.token, state.version):
            return ValidateAnswer(**answer)  # the devnet sees the mismatch
        view = state.begin(request.block_info)
        tx = request.tx
        try:
            call_info = self.sequencer.validate(view, tx, tx_context(tx))
        except ValidationFailure as exc:
            return ValidateAnswer(**answer, refusal=str(exc), reads=Reads.from_cache(view.cache))
        return ValidateAnswer(**answer, call_info=call_info, wrote=wrote_state(view.cache),
                              reads=Reads.from_cache(view.cache))


def serve(snapshot: dict[str, Any], token: str, version: int, chain_id: StarknetChainId,
          fee_token: int, requests: Any, replies: Connection) -> None:
    """The worker process's main function: build the replica, then answer until told to stop
    or until its parent (the devnet, or the fork server that exits with it) is gone."""
    from devnet.cli import settle_memory
    from node import logs

    parent = os.getppid()  # an orphan is adopted by another process: the parent id changes
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the devnet, which stops this
    _release_stdout()
    logs.configure()
    replica = Replica(snapshot, token, version, chain_id, fee_token)
    settle_memory()
    replies.send(("ready", token, version))
    logger.info("validate worker ready", extra={"pid": os.getpid(), "version": version})
    while True:
        try:
            message = requests.get(timeout=PARENT_CHECK_S)
        except queue.Empty:
            if os.getppid() != parent:
                return
            continue
        if message[0] == "stop":
            return
        if message[0] == "change":
            _, changed_version, diff, classes = message
            replica.state.apply(diff, classes)
            if replica.state.version != changed_version:
                logger.warning("replica out of step: the devnet will restart this worker",
                               extra={"version": replica.state.version,
                                      "expected": changed_version})
            continue
        replies.send(_answer(replica, message[1]))


def _release_stdout() -> None:
    """Point stdout at /dev/null: whoever reads the devnet's stdout waits for its end, which a
    worker holding a copy would delay."""
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)


def _answer(replica: Replica, request: ValidateRequest) -> ValidateAnswer:
    started = time.perf_counter_ns()
    try:
        answer = replica.validate(request)
        return dataclasses.replace(answer, nanoseconds=time.perf_counter_ns() - started)
    except Exception as exc:  # the devnet validates itself and restarts this worker
        logger.exception("validate request failed", extra={"tx_hash": hex(request.tx.hash)})
        return ValidateAnswer(request.request_id, replica.state.token, replica.state.version,
                              error=f"{type(exc).__name__}: {exc}")
