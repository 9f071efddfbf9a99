"""The node's local job store: every job it deals with, in `<data_dir>/jobs.sqlite`.

One row per job (keyed by its job hash) with its current state, and a history row for every
state change. Every write is one SQLite transaction, so a crash leaves the previous state; the
file is in WAL mode with a busy timeout, so a reader (`node jobs`) and the node can share it.
A restarted node picks up `unfinished(role)` again; `snapshot()` gives a reader one consistent
view. Payment is exactly-once: a trigger refuses any change to a paid job, so a second
`mark_paid` fails with `AlreadyPaid` and changes nothing. A delegated job keeps beside its row
what a later run needs to take it up again (`KeptDelegation`: body, input volumes, windows).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from node.errors import UserError
from p2p.messages import SignedAssignment, SignedJobHeader
from p2p.signing import job_hash as hash_of_header
from p2p.stark import STARK_PRIME

log = logging.getLogger(__name__)

JOBS_FILE = "jobs.sqlite"
SCHEMA_VERSION = 3
BUSY_TIMEOUT_S = 10.0
"""How long a write waits for another process's write to finish before giving up."""

Role = Literal["delegator", "executor", "validator"]
ROLES: tuple[str, ...] = ("delegator", "executor", "validator")

INITIAL_STATE = "published"
FINAL_STATES = frozenset({"paid", "failed", "expired"})
_PROGRESS: dict[str, tuple[str, ...]] = {
    "published": ("bidding",),
    "bidding": ("assigned",),
    # back to bidding: re-assignment after a missed window; straight to submitted: the delegator
    # sees the executor's witness only when the Registry accepts it
    "assigned": ("running", "bidding", "submitted"),
    "running": ("proving",),
    "proving": ("submitted",),
    "submitted": ("paid",),
}
TRANSITIONS: dict[str, frozenset[str]] = {
    state: frozenset(nexts) | {"failed", "expired"} for state, nexts in _PROGRESS.items()
} | {state: frozenset() for state in FINAL_STATES}
"""Every allowed state change: state -> the states it may go to. Final states go nowhere."""
STATES: tuple[str, ...] = tuple(TRANSITIONS)
ALREADY_PAID_SQL_MESSAGE = "job already paid"

_DELEGATIONS_TABLE = """CREATE TABLE delegations (
    job_hash TEXT PRIMARY KEY REFERENCES jobs (job_hash),
    body BLOB NOT NULL,
    volumes TEXT NOT NULL,
    bid_window REAL NOT NULL,
    assignment_window REAL NOT NULL,
    only_executor TEXT
)"""
"""What a delegator keeps to take a job up again: body, input volumes (JSON name -> text), the
windows it was delegated with and the one executor it is meant for (if any)."""
_SCHEMA: tuple[str, ...] = (
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    f"""CREATE TABLE jobs (
        job_hash TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ({", ".join(repr(r) for r in ROLES)})),
        header BLOB NOT NULL,
        state TEXT NOT NULL CHECK (state IN ({", ".join(repr(s) for s in STATES)})),
        attempt INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
        executor TEXT,
        output TEXT,
        payout_tx TEXT,
        assignment BLOB,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        CHECK ((state = 'paid') = (payout_tx IS NOT NULL))
    )""",
    "CREATE INDEX jobs_by_role_state ON jobs (role, state)",
    """CREATE TABLE history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_hash TEXT NOT NULL REFERENCES jobs (job_hash),
        from_state TEXT,
        to_state TEXT NOT NULL,
        reason TEXT NOT NULL,
        at REAL NOT NULL
    )""",
    "CREATE INDEX history_by_job ON history (job_hash, id)",
    f"""CREATE TRIGGER paid_is_final BEFORE UPDATE ON jobs WHEN OLD.state = 'paid'
    BEGIN SELECT RAISE(ABORT, '{ALREADY_PAID_SQL_MESSAGE}'); END""",
    _DELEGATIONS_TABLE,
)
"""The tables, in creation order. A paid job's row cannot change at all (`paid_is_final`)."""
_COLUMNS = (
    "job_hash, role, header, state, attempt, executor, output, payout_tx, assignment, created_at,"
    " updated_at"
)
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: ("ALTER TABLE jobs ADD COLUMN assignment BLOB",),
    3: (_DELEGATIONS_TABLE,),
}
"""The statements that bring a store from the version before each key to that version."""
_NOT_SQLITE_MESSAGES = ("file is not a database", "database disk image is malformed")


class StoreError(UserError):
    """A job store operation that was refused; nothing was changed."""


class UnknownJob(StoreError, KeyError):
    """No job with this hash in the store."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class IllegalTransition(StoreError):
    """A state change that TRANSITIONS does not allow."""


class AlreadyPaid(StoreError):
    """`mark_paid` for a job that is already paid."""


def store_path(data_dir: Path) -> Path:
    """Where a node keeps its job store: `<data_dir>/jobs.sqlite`."""
    return data_dir / JOBS_FILE


@dataclass(frozen=True)
class StoredJob:
    """A job as the store holds it."""

    job_hash: int
    role: str
    header_bytes: bytes
    """The signed header's canonical encoding."""
    state: str
    attempt: int
    executor: int | None
    output: tuple[int, ...] | None
    payout_tx: int | None
    assignment_bytes: bytes | None
    """The signed assignment the job runs under, if any (canonical encoding)."""
    created_at: float
    updated_at: float

    @property
    def signed_header(self) -> SignedJobHeader:
        return SignedJobHeader.decode(self.header_bytes)

    @property
    def signed_assignment(self) -> SignedAssignment | None:
        if self.assignment_bytes is None:
            return None
        return SignedAssignment.decode(self.assignment_bytes)


@dataclass(frozen=True)
class KeptDelegation:
    """What a delegator needs to take its job up again after a restart."""

    body: bytes
    """The job body's canonical encoding (program, program input, layout, volume names)."""
    volumes: Mapping[str, bytes]
    """The input volumes the body names: name -> UTF-8 JSON bytes."""
    bid_window: float
    assignment_window: float
    only_executor: int | None = None
    """The one executor whose bids count (`node delegate --executor`), if any."""


@dataclass(frozen=True)
class HistoryEntry:
    """One state change of a job; `from_state` is None for the job's recording."""

    from_state: str | None
    to_state: str
    reason: str
    at: float


class JobStore:
    """The jobs of one node in one SQLite file. Open with `JobStore.open(path)`."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection

    @classmethod
    @contextmanager
    def open(cls, path: Path | str) -> Iterator[JobStore]:
        """Open (creating if needed) the store at `path`; closes it on exit."""
        path = Path(path)
        with _errors_name(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            with _errors_name(path):
                _prepare(connection, path)
            yield cls(path, connection)
        finally:
            connection.close()

    def record_job(
        self, signed_header: SignedJobHeader, role: Role, kept: KeptDelegation | None = None
    ) -> StoredJob:
        """Record a job in state `published`; recording it again returns the existing row.

        `kept`: for a delegated job, what a later run needs to take it up again (same
        transaction: a recorded job is never without it)."""
        if not isinstance(signed_header, SignedJobHeader):
            raise StoreError(f"record_job needs a SignedJobHeader, got {type(signed_header)}")
        _check_choice("role", role, ROLES)
        if kept is not None and role != "delegator":
            raise StoreError(f"only a delegated job keeps its body (this one's role: {role})")
        key = hash_of_header(signed_header.header)
        with self._transaction():
            existing = self._row(key)
            if existing is not None:
                if existing.role != role:
                    raise StoreError(
                        f"job {key:#x} is already recorded as {existing.role}, not {role}; "
                        "one node store holds a job under one role"
                    )
                return existing
            now = time.time()
            self._db.execute(
                "INSERT INTO jobs (job_hash, role, header, state, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (_hex(key), role, signed_header.encode(), INITIAL_STATE, now, now),
            )
            self._add_history(key, None, INITIAL_STATE, "recorded", now)
            if kept is not None:
                self._keep(key, kept)
            job = self._existing(key)
        log.info("job recorded", extra={"job": _hex(key), "role": role})
        return job

    def transition(
        self,
        job_hash: int,
        new_state: str,
        reason: str,
        *,
        executor: int | None = None,
        output: Sequence[int] | None = None,
        assignment: SignedAssignment | None = None,
    ) -> StoredJob:
        """Move a job to `new_state` (setting `executor`/`output`/`assignment` if given), with
        its reason.

        Going from `assigned` back to `bidding` counts one more attempt. Use `mark_paid` for
        `paid`. Raises IllegalTransition (nothing changed) if TRANSITIONS does not allow it.
        """
        _check_choice("state", new_state, STATES)
        if new_state == "paid":
            raise IllegalTransition("a job becomes paid only through mark_paid(job_hash, tx_hash)")
        _check_reason(reason)
        fields: dict[str, object] = {}
        if executor is not None:
            fields["executor"] = _hex(_check_felt("executor", executor))
        if output is not None:
            fields["output"] = _encode_output(output)
        if assignment is not None:
            if not isinstance(assignment, SignedAssignment):
                raise StoreError(f"assignment must be a SignedAssignment, got {type(assignment)}")
            fields["assignment"] = assignment.encode()
        with self._transaction():
            old = self._existing(job_hash)
            _check_transition(job_hash, old.state, new_state)
            if (old.state, new_state) == ("assigned", "bidding"):
                fields["attempt"] = old.attempt + 1
            self._update(job_hash, old.state, new_state, reason, fields)
            job = self._existing(job_hash)
        log.info(
            "job transition",
            extra={"job": _hex(job_hash), "from": old.state, "to": new_state, "reason": reason},
        )
        return job

    def mark_paid(self, job_hash: int, tx_hash: int) -> StoredJob:
        """Record the payment of a submitted job, exactly once.

        Raises AlreadyPaid if the job is paid already: the SQL trigger `paid_is_final` refuses
        the change inside the transaction. Raises IllegalTransition if it is not submitted.
        """
        tx = _hex(_check_felt("tx_hash", tx_hash))
        with self._transaction():
            old = self._existing(job_hash)
            if old.state != "paid":  # a paid job is refused by the trigger, as AlreadyPaid
                _check_transition(job_hash, old.state, "paid")
            self._update(job_hash, old.state, "paid", f"paid in tx {tx}", {"payout_tx": tx})
            job = self._existing(job_hash)
        log.info("job paid", extra={"job": _hex(job_hash), "tx": tx})
        return job

    def kept_delegation(self, job_hash: int) -> KeptDelegation | None:
        """What the delegated job keeps to be taken up again; None if it keeps nothing (recorded
        by a node before schema 3, or not delegated by this node)."""
        with _errors_name(self.path):
            row = self._db.execute(
                "SELECT body, volumes, bid_window, assignment_window, only_executor"
                " FROM delegations WHERE job_hash = ?", (_hex(_check_felt("job_hash", job_hash)),)
            ).fetchone()
        if row is None:
            return None
        body, volumes, bid_window, assignment_window, only = row
        return KeptDelegation(bytes(body), {name: text.encode() for name, text in
                                            json.loads(volumes).items()},
                              bid_window, assignment_window, _optional_felt(only))

    def get(self, job_hash: int) -> StoredJob:
        """The job with this hash; raises UnknownJob if the store has none."""
        with _errors_name(self.path):
            return self._existing(job_hash)

    def jobs(
        self, states: Iterable[str] | None = None, role: Role | None = None
    ) -> list[StoredJob]:
        """The jobs in any of `states` (all if None) for `role` (all if None), oldest first."""
        clauses, params = [], []
        if isinstance(states, str):
            raise StoreError(f"states must be a list of state names, got the string {states!r}")
        if states is not None:
            wanted = [_check_choice("state", s, STATES) for s in states]
            clauses.append(f"state IN ({', '.join('?' * len(wanted))})")
            params += wanted
        if role is not None:
            clauses.append("role = ?")
            params.append(_check_choice("role", role, ROLES))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        query = f"SELECT {_COLUMNS} FROM jobs {where} ORDER BY created_at, job_hash"
        with _errors_name(self.path):
            return [_job_of(row) for row in self._db.execute(query, params)]

    def unfinished(self, role: Role) -> list[StoredJob]:
        """The jobs of `role` not in a final state: what a restarted node must pick up again."""
        return self.jobs(states=[s for s in STATES if s not in FINAL_STATES], role=role)

    def history(self, job_hash: int) -> list[HistoryEntry]:
        """Every state change of the job, oldest first; raises UnknownJob if there is none."""
        with _errors_name(self.path):
            rows = self._db.execute(
                "SELECT from_state, to_state, reason, at FROM history"
                " WHERE job_hash = ? ORDER BY id",
                (_hex(_check_felt("job_hash", job_hash)),),
            ).fetchall()
        if not rows:
            raise UnknownJob(f"no job {job_hash:#x} in {self.path}")
        return [HistoryEntry(*row) for row in rows]

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see one consistent state of the store, whatever other processes write.

        Without it each read sees the newest state, so a job and its history read one after
        the other may differ. Do not write inside a snapshot.
        """
        with _errors_name(self.path):
            self._db.execute("BEGIN DEFERRED")
            try:
                yield
            finally:
                self._db.execute("COMMIT")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction, taking the write lock at once; rolled back on any error."""
        with _errors_name(self.path):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _update(
        self, job_hash: int, old: str, new: str, reason: str, fields: dict[str, object]
    ) -> None:
        now = time.time()
        sets = "".join(f", {name} = ?" for name in fields)
        try:
            self._db.execute(
                f"UPDATE jobs SET state = ?, updated_at = ?{sets} WHERE job_hash = ?",
                (new, now, *fields.values(), _hex(job_hash)),
            )
        except sqlite3.IntegrityError as error:
            if ALREADY_PAID_SQL_MESSAGE not in str(error):
                raise
            raise AlreadyPaid(
                f"job {job_hash:#x} is already paid; it must not be paid again"
            ) from error
        self._add_history(job_hash, old, new, reason, now)

    def _add_history(
        self, job_hash: int, old: str | None, new: str, reason: str, at: float
    ) -> None:
        self._db.execute(
            "INSERT INTO history (job_hash, from_state, to_state, reason, at)"
            " VALUES (?, ?, ?, ?, ?)",
            (_hex(job_hash), old, new, reason, at),
        )

    def _keep(self, job_hash: int, kept: KeptDelegation) -> None:
        try:
            volumes = json.dumps({name: data.decode() for name, data in kept.volumes.items()})
        except (AttributeError, UnicodeDecodeError) as error:
            raise StoreError(f"input volumes must be UTF-8 JSON bytes by name ({error})") from None
        only = None if kept.only_executor is None else _hex(_check_felt("executor",
                                                                        kept.only_executor))
        self._db.execute(
            "INSERT INTO delegations (job_hash, body, volumes, bid_window, assignment_window,"
            " only_executor) VALUES (?, ?, ?, ?, ?, ?)",
            (_hex(job_hash), bytes(kept.body), volumes, float(kept.bid_window),
             float(kept.assignment_window), only),
        )

    def _row(self, job_hash: int) -> StoredJob | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE job_hash = ?", (_hex(job_hash),))
        found = row.fetchone()
        return None if found is None else _job_of(found)

    def _existing(self, job_hash: int) -> StoredJob:
        job = self._row(_check_felt("job_hash", job_hash))
        if job is None:
            raise UnknownJob(f"no job {job_hash:#x} in {self.path}")
        return job


@contextmanager
def _errors_name(path: Path) -> Iterator[None]:
    """Turn SQLite and file errors into a StoreError naming the file and what to do."""
    try:
        yield
    except sqlite3.DatabaseError as error:
        if any(text in str(error) for text in _NOT_SQLITE_MESSAGES):
            raise StoreError(
                f"{path} is not a readable job store ({error}); move it aside to start a "
                "fresh store, or restore it from a backup"
            ) from error
        if "locked" in str(error) or "busy" in str(error):
            raise StoreError(
                f"{path} stayed locked by another process for {BUSY_TIMEOUT_S:g} s; "
                "stop the other process or retry"
            ) from error
        raise StoreError(f"job store {path}: {error}; check the file and its directory") from error
    except OSError as error:
        raise StoreError(f"cannot open job store {path}: {error}") from error


def _prepare(db: sqlite3.Connection, path: Path) -> None:
    """Set WAL mode and create or check the schema."""
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("BEGIN IMMEDIATE")
    try:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        if not tables:
            for statement in _SCHEMA:
                db.execute(statement)
            db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
        else:
            _check_and_migrate(db, path, tables)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _check_and_migrate(db: sqlite3.Connection, path: Path, tables: set[str]) -> None:
    if "schema_version" not in tables:
        raise StoreError(
            f"{path} is an SQLite file but not a job store; move it aside or set node.data_dir "
            "to another directory"
        )
    (version,) = db.execute("SELECT max(version) FROM schema_version").fetchone()
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} has job store schema {version}, newer than this node's {SCHEMA_VERSION}; "
            "upgrade the node, or set node.data_dir to another directory"
        )
    for newer in range(version + 1, SCHEMA_VERSION + 1):
        for statement in _MIGRATIONS[newer]:
            db.execute(statement)
        db.execute("INSERT INTO schema_version VALUES (?)", (newer,))
        log.info("job store migrated", extra={"store": str(path), "schema": newer})


def _check_transition(job_hash: int, old: str, new: str) -> None:
    if new not in TRANSITIONS[old]:
        allowed = ", ".join(sorted(TRANSITIONS[old])) or "none (final state)"
        raise IllegalTransition(
            f"job {job_hash:#x} cannot go from {old} to {new}; allowed from {old}: {allowed}"
        )


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise StoreError(f"unknown {name} {value!r}; expected one of {', '.join(choices)}")
    return value


def _check_reason(reason: object) -> None:
    if not isinstance(reason, str) or not reason.strip():
        raise StoreError(f"a transition needs a non-empty reason text, got {reason!r}")


def _check_felt(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < STARK_PRIME:
        raise StoreError(f"{name} must be a felt (an int in [0, STARK_PRIME)), got {value!r}")
    return value


def _hex(value: int) -> str:
    """A felt as fixed-width hex: SQLite integers hold only 64 bits."""
    return f"0x{value:064x}"


def _encode_output(output: Sequence[int]) -> str:
    if isinstance(output, (str, bytes)) or not isinstance(output, Sequence):
        raise StoreError(f"output must be a sequence of felts, got {output!r}")
    return json.dumps([_hex(_check_felt("output felt", felt)) for felt in output])


def _optional_felt(text: str | None) -> int | None:
    return None if text is None else int(text, 16)


def _job_of(row: tuple) -> StoredJob:
    key, role, header, state, attempt, executor, output, payout_tx, assignment, *times = row
    created, updated = times
    return StoredJob(
        job_hash=int(key, 16),
        role=role,
        header_bytes=bytes(header),
        state=state,
        attempt=attempt,
        executor=_optional_felt(executor),
        output=None if output is None else tuple(int(f, 16) for f in json.loads(output)),
        payout_tx=_optional_felt(payout_tx),
        assignment_bytes=None if assignment is None else bytes(assignment),
        created_at=created,
        updated_at=updated,
    )
