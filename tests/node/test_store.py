"""The local job store: states, exactly-once payment, crashes, two processes, bad files."""

from __future__ import annotations

import dataclasses
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from node.config import load_config
from node.errors import UserError
from node.store import (
    FINAL_STATES,
    SCHEMA_VERSION,
    TRANSITIONS,
    AlreadyPaid,
    IllegalTransition,
    JobStore,
    KeptDelegation,
    StoreError,
    UnknownJob,
    store_path,
)
from p2p.messages import Assignment, SignedAssignment, SignedJobHeader
from p2p.signing import job_hash
from p2p.stark import STARK_PRIME
from tests.p2p.test_codec import HEADER

REPO = Path(__file__).resolve().parents[2]
TO_SUBMITTED = ("bidding", "assigned", "running", "proving", "submitted")


def signed(nonce: int) -> SignedJobHeader:
    return SignedJobHeader(dataclasses.replace(HEADER, nonce=nonce), (11, 22))


def submitted_job(store: JobStore, nonce: int) -> int:
    key = store.record_job(signed(nonce), "executor").job_hash
    for state in TO_SUBMITTED:
        store.transition(key, state, f"to {state}")
    return key


def snapshot(store: JobStore, key: int) -> tuple:
    return store.get(key), store.history(key)


def run_python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "jobs.sqlite"


def test_store_lives_in_the_configured_data_dir(tmp_path: Path) -> None:
    config = load_config(None, {}, {"node.data_dir": str(tmp_path / "node")})
    with JobStore.open(store_path(config.data_dir)) as store:
        store.record_job(signed(1), "executor")
    assert (tmp_path / "node" / "jobs.sqlite").is_file()


def test_recorded_job_keeps_its_header_and_starts_published(db: Path) -> None:
    with JobStore.open(db) as store:
        job = store.record_job(signed(1), "delegator")
        assert job.job_hash == job_hash(signed(1).header)
        assert job.signed_header == signed(1)
        assert (job.role, job.state, job.attempt) == ("delegator", "published", 0)
        assert (job.executor, job.output, job.payout_tx) == (None, None, None)
        assert [(h.from_state, h.to_state) for h in store.history(job.job_hash)] == [
            (None, "published")
        ]
    with JobStore.open(db) as store:
        assert store.get(job.job_hash) == job


def test_recording_the_same_job_twice_returns_the_existing_row(db: Path) -> None:
    with JobStore.open(db) as store:
        first = store.record_job(signed(1), "executor")
        store.transition(first.job_hash, "bidding", "bid sent")
        again = store.record_job(signed(1), "executor")
        assert again == store.get(first.job_hash)
        assert again.state == "bidding"
        assert len(store.history(first.job_hash)) == 2


def test_recording_a_job_under_another_role_is_refused(db: Path) -> None:
    with JobStore.open(db) as store:
        key = store.record_job(signed(1), "executor").job_hash
        before = snapshot(store, key)
        with pytest.raises(StoreError, match="already recorded as executor"):
            store.record_job(signed(1), "validator")
        assert snapshot(store, key) == before


def test_job_goes_from_published_to_paid_with_its_fields_and_history(db: Path) -> None:
    with JobStore.open(db) as store:
        key = store.record_job(signed(1), "executor").job_hash
        store.transition(key, "bidding", "bid sent")
        store.transition(key, "assigned", "assignment received", executor=0xE0)
        store.transition(key, "running", "body fetched")
        store.transition(key, "proving", "run done", output=[1, STARK_PRIME - 1])
        store.transition(key, "submitted", "witness sent")
        job = store.mark_paid(key, 0xBEEF)
        assert (job.state, job.executor, job.payout_tx) == ("paid", 0xE0, 0xBEEF)
        assert job.output == (1, STARK_PRIME - 1)
        assert job.updated_at >= job.created_at
        steps = [(h.from_state, h.to_state, h.reason) for h in store.history(key)]
        assert steps[1:] == [
            ("published", "bidding", "bid sent"),
            ("bidding", "assigned", "assignment received"),
            ("assigned", "running", "body fetched"),
            ("running", "proving", "run done"),
            ("proving", "submitted", "witness sent"),
            ("submitted", "paid", f"paid in tx 0x{0xBEEF:064x}"),
        ]


def test_reassignment_after_a_missed_window_counts_an_attempt(db: Path) -> None:
    with JobStore.open(db) as store:
        key = store.record_job(signed(1), "delegator").job_hash
        store.transition(key, "bidding", "open")
        store.transition(key, "assigned", "picked", executor=0xE0)
        job = store.transition(key, "bidding", "window missed")
        assert job.attempt == 1
        job = store.transition(key, "assigned", "picked again", executor=0xE1)
        assert (job.attempt, job.executor) == (1, 0xE1)


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ((), "running"),
        (("bidding",), "proving"),
        (("bidding", "assigned", "running"), "bidding"),
        (("failed",), "bidding"),
        (("expired",), "failed"),
        (("bidding",), "bidding"),
    ],
)
def test_illegal_transition_is_refused_and_changes_nothing(
    db: Path, path: tuple[str, ...], target: str
) -> None:
    with JobStore.open(db) as store:
        key = store.record_job(signed(1), "executor").job_hash
        for state in path:
            store.transition(key, state, "step")
        before = snapshot(store, key)
        with pytest.raises(
            IllegalTransition,
            match=f"cannot go from {path[-1] if path else 'published'} to {target}",
        ):
            store.transition(key, target, "bad step", executor=0xE0)
        assert snapshot(store, key) == before


def test_every_non_final_state_can_fail_or_expire_and_final_states_go_nowhere() -> None:
    for state, nexts in TRANSITIONS.items():
        if state in FINAL_STATES:
            assert nexts == frozenset()
        else:
            assert {"failed", "expired"} <= nexts


def test_paid_only_through_mark_paid_and_only_from_submitted(db: Path) -> None:
    with JobStore.open(db) as store:
        key = store.record_job(signed(1), "executor").job_hash
        with pytest.raises(IllegalTransition, match="mark_paid"):
            store.transition(key, "paid", "claimed")
        before = snapshot(store, key)
        with pytest.raises(IllegalTransition, match="cannot go from published to paid"):
            store.mark_paid(key, 0x1)
        assert snapshot(store, key) == before


def test_second_payment_raises_already_paid_and_changes_nothing(db: Path) -> None:
    with JobStore.open(db) as store:
        key = submitted_job(store, 1)
        store.mark_paid(key, 0xAAA)
        before = snapshot(store, key)
        with pytest.raises(AlreadyPaid, match="already paid"):
            store.mark_paid(key, 0xBBB)
        with pytest.raises(IllegalTransition):
            store.transition(key, "failed", "late failure")
        assert snapshot(store, key) == before
        assert store.get(key).payout_tx == 0xAAA


def test_sql_refuses_any_change_to_a_paid_job_even_bypassing_the_api(db: Path) -> None:
    with JobStore.open(db) as store:
        key = submitted_job(store, 1)
        store.mark_paid(key, 0xAAA)
    raw = sqlite3.connect(db)
    with pytest.raises(sqlite3.IntegrityError, match="job already paid"):
        raw.execute("UPDATE jobs SET payout_tx = '0x1' WHERE state = 'paid'")
    with pytest.raises(sqlite3.IntegrityError):  # paid needs a payout tx, and only paid has one
        raw.execute("UPDATE jobs SET state = 'paid', payout_tx = NULL")
    raw.close()
    with JobStore.open(db) as store:
        assert store.get(key).payout_tx == 0xAAA


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s, k: s.transition(k, "done", "x"), "unknown state 'done'"),
        (lambda s, k: s.transition(k, "bidding", ""), "non-empty reason"),
        (lambda s, k: s.transition(k, "bidding", None), "non-empty reason"),
        (lambda s, k: s.transition(k, "bidding", "x", executor=-1), "executor must be a felt"),
        (lambda s, k: s.transition(k, "bidding", "x", executor=STARK_PRIME), "executor must be"),
        (lambda s, k: s.transition(k, "bidding", "x", output="12"), "sequence of felts"),
        (lambda s, k: s.transition(k, "bidding", "x", output=[1, "2"]), "output felt must be"),
        (lambda s, k: s.transition(k + 1, "bidding", "x"), "no job 0x"),
        (lambda s, k: s.transition(-5, "bidding", "x"), "job_hash must be a felt"),
        (lambda s, k: s.mark_paid(k, True), "tx_hash must be a felt"),
        (lambda s, k: s.mark_paid(k + 1, 1), "no job 0x"),
        (lambda s, k: s.record_job(signed(2), "miner"), "unknown role 'miner'"),
        (lambda s, k: s.record_job(b"header", "executor"), "needs a SignedJobHeader"),
        (lambda s, k: s.jobs(states=["paid", "lost"]), "unknown state 'lost'"),
        (lambda s, k: s.jobs(states="paid"), "list of state names"),
        (lambda s, k: s.history("0x12"), "job_hash must be a felt"),
        (lambda s, k: s.unfinished("admin"), "unknown role 'admin'"),
        (lambda s, k: s.get(k + 1), "no job"),
        (lambda s, k: s.history(k + 1), "no job"),
    ],
)
def test_bad_input_gets_a_clear_error_and_the_store_keeps_working(
    db: Path, call, message: str
) -> None:
    with JobStore.open(db) as store:
        key = store.record_job(signed(1), "executor").job_hash
        before = snapshot(store, key)
        with pytest.raises(UserError, match=message):
            call(store, key)
        assert snapshot(store, key) == before
        assert len(store.jobs()) == 1
        assert store.transition(key, "bidding", "still works").state == "bidding"


def test_unknown_job_is_also_a_key_error(db: Path) -> None:
    with JobStore.open(db) as store, pytest.raises(KeyError) as raised:
        store.get(123)
    assert isinstance(raised.value, UnknownJob)


def test_jobs_filter_by_state_and_role_and_unfinished_survives_a_restart(db: Path) -> None:
    with JobStore.open(db) as store:
        running = store.record_job(signed(1), "executor").job_hash
        for state in ("bidding", "assigned", "running"):
            store.transition(running, state, "step")
        paid = submitted_job(store, 2)
        store.mark_paid(paid, 0x77)
        failed = store.record_job(signed(3), "executor").job_hash
        store.transition(failed, "failed", "body missing")
        mine = store.record_job(signed(4), "delegator").job_hash
    with JobStore.open(db) as store:
        assert [j.job_hash for j in store.unfinished("executor")] == [running]
        assert [j.job_hash for j in store.unfinished("delegator")] == [mine]
        assert store.unfinished("validator") == []
        assert {j.job_hash for j in store.jobs(states=["paid", "failed"])} == {paid, failed}
        assert [j.job_hash for j in store.jobs(role="delegator")] == [mine]
        assert len(store.jobs()) == 4
        assert store.jobs(states=[]) == []


def test_store_file_is_in_wal_mode_with_the_current_schema(db: Path) -> None:
    with JobStore.open(db):
        pass
    raw = sqlite3.connect(db)
    assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert raw.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    raw.close()


def test_newer_schema_is_refused_with_what_to_do(db: Path) -> None:
    with JobStore.open(db):
        pass
    raw = sqlite3.connect(db)
    raw.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    raw.commit()
    raw.close()
    with (
        pytest.raises(StoreError, match=f"{db}.*newer than this node's.*upgrade the node"),
        JobStore.open(db),
    ):
        pass


@pytest.mark.parametrize(
    "content",
    [b"not a database at all, just text\n" * 200, b"SQLite format 3\x00" + b"\xff" * 4000],
)
def test_non_sqlite_file_is_refused_naming_it_and_left_untouched(db: Path, content: bytes) -> None:
    db.parent.mkdir(parents=True)
    db.write_bytes(content)
    with (
        pytest.raises(UserError, match=f"{db} is not a readable job store.*move it aside"),
        JobStore.open(db),
    ):
        pass
    assert db.read_bytes() == content


def test_other_sqlite_database_is_refused(db: Path) -> None:
    db.parent.mkdir(parents=True)
    raw = sqlite3.connect(db)
    raw.execute("CREATE TABLE accounts (name TEXT)")
    raw.commit()
    raw.close()
    with (
        pytest.raises(StoreError, match=f"{db} is an SQLite file but not a job store"),
        JobStore.open(db),
    ):
        pass


def test_directory_at_the_path_is_refused(db: Path) -> None:
    db.mkdir(parents=True)
    with pytest.raises(StoreError, match=str(db)), JobStore.open(db):
        pass


WRITER = """
import dataclasses, sys
from node.store import JobStore
from tests.node.test_store import TO_SUBMITTED, signed
with JobStore.open(sys.argv[1]) as store:
    for nonce in range(10**6):
        key = store.record_job(signed(nonce), "executor").job_hash
        print(hex(key), "published", flush=True)
        for state in TO_SUBMITTED:
            store.transition(key, state, "loop")
            print(hex(key), state, flush=True)
        store.mark_paid(key, nonce + 1)
        print(hex(key), "paid", flush=True)
"""


def check_consistent(store: JobStore) -> None:
    """Every job's history is a chain of allowed steps ending in its current state."""
    for job in store.jobs():
        history = store.history(job.job_hash)
        assert history[0].from_state is None
        for before, after in itertools.pairwise(history):
            assert after.from_state == before.to_state
            assert after.to_state in TRANSITIONS[before.to_state]
        assert history[-1].to_state == job.state
        assert (job.payout_tx is not None) == (job.state == "paid")


@pytest.mark.parametrize("commits_before_kill", [3, 40, 150])
def test_killed_writer_leaves_a_valid_store_with_every_committed_step(
    db: Path, commits_before_kill: int
) -> None:
    writer = run_python(WRITER, str(db))
    committed = []
    for _ in range(commits_before_kill):
        line = writer.stdout.readline()
        assert line, writer.stderr.read()
        committed.append(line.split())
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=10)
    with JobStore.open(db) as store:
        check_consistent(store)
        for key, state in committed:
            assert state in {h.to_state for h in store.history(int(key, 16))}


PAYER = """
import sys
from node.store import AlreadyPaid, JobStore
with JobStore.open(sys.argv[1]) as store:
    keys = [job.job_hash for job in store.jobs(states=["submitted"])]
    print("ready", flush=True)
    sys.stdin.readline()
    paid = refused = 0
    for key in keys:
        try:
            store.mark_paid(key, int(sys.argv[2]))
            paid += 1
        except AlreadyPaid:
            refused += 1
    print(paid, refused, flush=True)
"""


def test_two_processes_paying_the_same_jobs_pay_each_exactly_once(db: Path) -> None:
    jobs = 40
    with JobStore.open(db) as store:
        for nonce in range(jobs):
            submitted_job(store, nonce)
    payers = [run_python(PAYER, str(db), str(tx)) for tx in (0xA, 0xB)]
    for payer in payers:
        assert payer.stdout.readline() == "ready\n", payer.stderr.read()
    for payer in payers:  # start both at once
        payer.stdin.write("go\n")
        payer.stdin.flush()
    outputs = [payer.communicate(timeout=60) for payer in payers]
    counts = [tuple(map(int, out.split())) for out, _ in outputs]
    assert sum(paid for paid, _ in counts) == jobs, outputs
    assert all(paid + refused == jobs for paid, refused in counts)
    with JobStore.open(db) as store:
        for job in store.jobs():
            assert job.state == "paid" and job.payout_tx in (0xA, 0xB)
            assert [h.to_state for h in store.history(job.job_hash)].count("paid") == 1
        check_consistent(store)


RECORDER = """
import sys
from node.store import JobStore
from tests.node.test_store import signed
with JobStore.open(sys.argv[1]) as store:
    for nonce in range(30):
        store.record_job(signed(nonce), "validator")
"""


def test_two_processes_creating_and_recording_the_same_jobs_keep_one_row_each(db: Path) -> None:
    recorders = [run_python(RECORDER, str(db)) for _ in range(2)]
    for recorder in recorders:
        _, errors = recorder.communicate(timeout=60)
        assert recorder.returncode == 0, errors
    with JobStore.open(db) as store:
        assert len(store.jobs(role="validator")) == 30
        for job in store.jobs():
            assert len(store.history(job.job_hash)) == 1


def test_reader_sees_consistent_jobs_while_another_process_writes(db: Path) -> None:
    with JobStore.open(db):
        pass
    writer = run_python(WRITER, str(db))
    try:
        assert writer.stdout.readline(), writer.stderr.read()
        seen = 0
        with JobStore.open(db) as reader:
            while seen < 30:
                with reader.snapshot():
                    jobs = reader.jobs()
                    check_consistent(reader)
                assert len(jobs) >= seen
                seen = len(jobs)
    finally:
        writer.kill()
        writer.wait(timeout=10)


def test_a_schema_1_store_is_migrated_and_keeps_its_jobs(db: Path) -> None:
    with JobStore.open(db) as store:
        key = store.record_job(signed(1), "executor").job_hash
    raw = sqlite3.connect(db)  # make it the store an older node wrote
    raw.execute("DROP TABLE delegations")
    raw.execute("ALTER TABLE jobs DROP COLUMN assignment")
    raw.execute("UPDATE schema_version SET version = 1")
    raw.commit()
    raw.close()
    with JobStore.open(db) as store:
        assert store.get(key).signed_header == signed(1)
        assert store.get(key).signed_assignment is None
    raw = sqlite3.connect(db)
    assert raw.execute("SELECT version FROM schema_version ORDER BY version").fetchall() == [
        (1,),
        (2,),
        (3,),
    ]
    raw.close()


KEPT = KeptDelegation(b"\x81body", {"leaves": b"[1, 2]"}, 2.5, 30.0, 0xE1)


def test_a_delegated_job_keeps_what_a_later_run_needs_to_take_it_up_again(db: Path) -> None:
    with JobStore.open(db) as store:
        key = store.record_job(signed(1), "delegator", KEPT).job_hash
        plain = store.record_job(signed(2), "delegator").job_hash
    with JobStore.open(db) as store:
        assert store.kept_delegation(key) == KEPT
        assert store.kept_delegation(plain) is None
        assert store.kept_delegation(job_hash(signed(3).header)) is None


def test_a_delegation_that_cannot_be_kept_records_nothing(db: Path) -> None:
    with JobStore.open(db) as store:
        with pytest.raises(StoreError, match="UTF-8 JSON bytes"):
            store.record_job(signed(1), "delegator",
                             dataclasses.replace(KEPT, volumes={"v": b"\xff"}))
        with pytest.raises(StoreError, match="only a delegated job keeps its body"):
            store.record_job(signed(1), "executor", KEPT)
        with pytest.raises(StoreError, match="executor must be a felt"):
            store.record_job(signed(1), "delegator",
                             dataclasses.replace(KEPT, only_executor=STARK_PRIME))
        assert store.jobs() == []  # each refusal rolled the whole recording back
        key = store.record_job(signed(1), "delegator", KEPT).job_hash
        assert store.kept_delegation(key) == KEPT


def test_a_schema_2_store_is_migrated_and_its_jobs_stay_readable(db: Path) -> None:
    with JobStore.open(db) as store:
        key = store.record_job(signed(1), "delegator").job_hash
        store.transition(key, "bidding", "header published")
    raw = sqlite3.connect(db)  # the store a node before schema 3 wrote
    raw.execute("DROP TABLE delegations")
    raw.execute("UPDATE schema_version SET version = 2")
    raw.commit()
    raw.close()
    with JobStore.open(db) as store:
        assert store.get(key).state == "bidding" and store.kept_delegation(key) is None
        assert [job.job_hash for job in store.unfinished("delegator")] == [key]
        new = store.record_job(signed(2), "delegator", KEPT).job_hash
        assert store.kept_delegation(new) == KEPT
    raw = sqlite3.connect(db)
    assert raw.execute("SELECT max(version) FROM schema_version").fetchone() == (3,)
    raw.close()


def test_the_assignment_a_job_runs_under_is_kept(db: Path) -> None:
    assignment = SignedAssignment(Assignment(job_hash(signed(1).header), 0xE1, 1_900_000_000, 2),
                                  (5, 6))
    with JobStore.open(db) as store:
        key = store.record_job(signed(1), "executor").job_hash
        store.transition(key, "bidding", "bid sent")
        store.transition(key, "assigned", "assigned to us", assignment=assignment)
    with JobStore.open(db) as store:
        assert store.get(key).signed_assignment == assignment
        with pytest.raises(StoreError, match="SignedAssignment"):
            store.transition(key, "running", "x", assignment=assignment.assignment)  # type: ignore[arg-type]
        assert store.get(key).state == "assigned"


def test_a_delegator_sees_its_job_submitted_straight_from_assigned(db: Path) -> None:
    with JobStore.open(db) as store:
        key = store.record_job(signed(1), "delegator").job_hash
        for state in ("bidding", "assigned", "submitted"):
            store.transition(key, state, f"to {state}")
        assert store.mark_paid(key, 0xAB).state == "paid"
