"""`node delegate | serve | validate`: arguments and settings refused before anything starts."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from cairo_jobs.examples import EXAMPLES
from node.store import JobStore, KeptDelegation, store_path
from p2p.messages import SignedJobHeader
from tests.node.cli_run import Result, clean_environment, run_cli
from tests.p2p.test_codec import HEADER
from tests.ports import free_port

FIBONACCI = EXAMPLES["fibonacci"].path


@pytest.fixture(autouse=True)
def keystore_password(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(monkeypatch, ZETINA_KEYSTORE_PASSWORD="x")


def node(*args: str, data_dir: Path) -> Result:
    return run_cli(*args, "--data-dir", str(data_dir))


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    files = {"not_a_program.json": '{"not": "a program"}', "broken.cairo": "func main( {",
             "list.json": "[1, 2]", "input.json": '{"n": 10}'}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return {name: tmp_path / name for name in files}


def test_bad_delegate_arguments_are_refused_with_what_is_wrong(
    tmp_path: Path, inputs: dict[str, Path]
) -> None:
    fib = str(FIBONACCI)
    cases = [
        ([fib, "--input", "[1, 2]", "--reward", "5"], "must be a JSON object"),
        ([fib, "--input", str(inputs["list.json"]), "--reward", "5"], "must be a JSON object"),
        ([fib, "--input", "{oops", "--reward", "5"], "neither valid JSON nor a readable file"),
        ([fib, "--input", str(inputs["broken.cairo"]), "--reward", "5"], "is not valid JSON"),
        ([str(inputs["not_a_program.json"]), "--reward", "5"], "not a compiled Cairo program"),
        ([str(inputs["broken.cairo"]), "--reward", "5"], "does not compile"),
        ([str(tmp_path / "missing.cairo"), "--reward", "5"], "cannot read the program"),
        ([fib, "--reward", "-3"], "--reward '-3': must be more than zero"),
        ([fib, "--reward", "lots"], "--reward 'lots': not a number"),
        ([fib, "--reward", "5", "--executor", "12"], "'12' is not a Starknet address"),
        ([fib, "--reward", "5", "--output-volume", "table"], "add --wait"),
        ([fib, "--reward", "5", "--deadline", "0"], "'0' must be a positive number of seconds"),
        ([fib, "--reward", "5", "--deadline", "nan"], "'nan' must be a positive number"),
        ([fib, "--reward", "5", "--deadline", "soon"], "'soon' is not a number of seconds"),
        ([fib, "--reward", "5", "--layout", "smal"], "--layout 'smal' is not a Cairo layout"),
        ([fib, "--reward", "5"], "chain.account is not set"),  # all good but no account
        ([fib, "--input", str(inputs["input.json"]), "--reward", "5"],
         "chain.account is not set"),  # an input file is read as the input
    ]
    for args, message in cases:
        done = node("delegate", *args, data_dir=tmp_path / "node")
        assert done.code in (1, 2) and message in done.err, (args, done.err)
    assert not (tmp_path / "node" / "jobs.sqlite").exists()


def test_roles_need_an_account_keys_and_contracts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for role in ("serve", "validate"):
        done = node(role, data_dir=tmp_path)
        assert done.code == 2 and "chain.account is not set" in done.err

    monkeypatch.setenv("ZETINA_CHAIN_ACCOUNT", "0x123")
    done = node("serve", data_dir=tmp_path)
    assert done.code == 1 and "no keystore" in done.err and "node keys" in done.err
    (tmp_path / "key").write_text("0x1234")
    imported = node("keys", "import", "--private-key-file", str(tmp_path / "key"),
                    data_dir=tmp_path)
    assert imported.code == 0, imported.err
    assert (tmp_path / "identity.key").exists()  # the import made the libp2p identity too
    done = node("serve", data_dir=tmp_path)
    assert done.code == 2 and "contracts.registry is not set" in done.err


@pytest.fixture
def ready_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data dir with keys, and settings naming an account and contracts; the RPC URL points
    at a port nobody listens on, so whatever needs the chain fails."""
    (tmp_path / "key").write_text("0x1234")
    imported = node("keys", "import", "--private-key-file", str(tmp_path / "key"),
                    data_dir=tmp_path)
    assert imported.code == 0, imported.err
    for name, value in (("CHAIN_ACCOUNT", "0x123"), ("CONTRACTS_REGISTRY", "0x456"),
                        ("CONTRACTS_FACT_REGISTRY", "0x789"), ("CONTRACTS_TOKEN", "0xabc"),
                        ("CHAIN_RPC_URL", f"http://127.0.0.1:{free_port()}/rpc")):
        monkeypatch.setenv(f"ZETINA_{name}", value)
    return tmp_path


def test_bad_role_settings_are_refused_before_the_node_starts(
    ready_node: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (ready_node / "hints.json").write_text('{"not": "a list"}')
    monkeypatch.setenv("PATH", str(ready_node))  # no Stone binaries to be found
    cases = [
        ("serve", {"EXECUTOR_PROVER": "fast"}, "choose one of reexec, native, stone"),
        ("serve", {"EXECUTOR_PROVER": "stone"}, "install the Stone prover with "
                                                "scripts/install-stone"),
        ("serve", {"EXECUTOR_ALLOWED_HINTS_FILE": str(ready_node / "missing.json")},
         "cannot read executor.allowed_hints_file"),
        ("validate", {"EXECUTOR_ALLOWED_HINTS_FILE": str(ready_node / "hints.json")},
         "must hold a JSON list of strings"),
    ]
    for role, settings, message in cases:
        with monkeypatch.context() as env:
            for name, value in settings.items():
                env.setenv(f"ZETINA_{name}", value)
            done = node(role, "--json", data_dir=ready_node)
        assert done.code == 1 and message in done.err, (role, settings, done.err)
        assert message in json.loads(done.out)["error"]
        assert "Starknet node failed" not in done.err  # told before the chain is asked
    assert not (ready_node / "jobs.sqlite").exists()


def test_roles_without_a_reachable_chain_say_so_and_how_to_fix_it(ready_node: Path) -> None:
    for args in (["serve"], ["validate"], ["delegate", str(FIBONACCI), "--reward", "5"]):
        done = node(*args, data_dir=ready_node)
        assert done.code == 1, (args, done.err)
        assert "cannot reach the Starknet node at http://127.0.0.1:" in done.err, done.err
        assert "start it or fix chain.rpc_url" in done.err
        assert "Traceback" not in done.err


def test_bad_addresses_or_status_port_are_refused_before_the_node_starts(
    ready_node: Path,
) -> None:
    peer = "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWBz37vWQBe89Eb5mQCahes61nS5EPBc96PM82haPELAS8"
    cases = [
        (["serve", "--listen", "/ip4/127.0.0.1/udp/4001"], "it needs an IP and a TCP port"),
        (["validate", "--bootstrap", "127.0.0.1:4001"], "bad peer address '127.0.0.1:4001'"),
        (["serve", "--bootstrap", peer, "--bootstrap", "/ip4/127.0.0.1/tcp/4001"],
         "it must end in /p2p/<peer id>"),
        (["delegate", str(FIBONACCI), "--reward", "5", "--listen", "nowhere"],
         "bad listen address 'nowhere'"),
    ]
    for args, message in cases:
        done = node(*args, data_dir=ready_node)
        assert done.code == 1 and message in done.err, (args, done.err)
        assert "--bootstrap" in done.err and "Traceback" not in done.err
    done = node("serve", "--status-port", "70000", data_dir=ready_node)
    assert done.code == 2 and "node.status_port from flag: 70000 is out of range" in done.err


def recorded(data_dir: Path, nonce: int, *, delegator: int = 0x123, role: str = "delegator",
             kept: bool = True, to: tuple[str, ...] = ("bidding",)) -> int:
    """Record a job in the node's store as an earlier run left it; returns its hash."""
    header = dataclasses.replace(HEADER, delegator=delegator, nonce=nonce)
    keeps = KeptDelegation(b"body", {}, 0.5, 30.0) if kept and role == "delegator" else None
    with JobStore.open(store_path(data_dir)) as store:
        key = store.record_job(SignedJobHeader(header, (1, 2)), role, keeps).job_hash  # type: ignore[arg-type]
        for state in to:
            store.transition(key, state, f"to {state}")
        if to[-1] == "submitted":
            store.mark_paid(key, 0xBEEF)
    return key


def states(data_dir: Path) -> dict[int, str]:
    with JobStore.open(store_path(data_dir)) as store:
        return {job.job_hash: job.state for job in store.jobs()}


def test_resume_refuses_jobs_it_cannot_take_up_saying_why_and_changes_nothing(
    ready_node: Path,
) -> None:
    open_job = recorded(ready_node, 1)
    jobs = {
        "another account's": recorded(ready_node, 2, delegator=0x999),
        "an executor's": recorded(ready_node, 3, role="executor"),
        "paid": recorded(ready_node, 4, to=("bidding", "assigned", "submitted")),
        "expired": recorded(ready_node, 5, to=("expired",)),
        "kept nothing": recorded(ready_node, 6, kept=False),
    }
    before = states(ready_node)
    cases = [
        (["--resume", "zz"], 2, "'zz' is not a job hash"),
        (["--resume", "0xabc"], 2, "no job 0xabc in"),
        (["--resume", hex(jobs["another account's"])], 2, "delegator 0x999; this node is 0x123"),
        (["--resume", hex(jobs["an executor's"])], 2, "not one this node delegated (role executor"),
        (["--resume", hex(jobs["paid"])], 1, "is already paid (tx 0xbeef)"),
        (["--resume", hex(jobs["expired"])], 1, "is expired: it cannot be taken up"),
        (["--resume", hex(jobs["kept nothing"])], 1, "older node that kept no body"),
        ([str(FIBONACCI), "--resume"], 2, "drop PROGRAM"),
        (["--resume", "--reward", "5", "--input", "{}"], 2, "drop --reward"),
        (["--resume", "--input", '{"n": 1}'], 2, "drop --input"),
        ([], 2, "give the PROGRAM to delegate and its --reward, or --resume"),
        ([str(FIBONACCI)], 2, "give the PROGRAM to delegate and its --reward"),
    ]
    for args, code, message in cases:
        done = node("delegate", *args, "--json", data_dir=ready_node)
        assert done.code == code and message in done.err, (args, done.err)
    assert states(ready_node) == before

    # Nothing left open in an empty data dir: nothing to do, and no chain needed.
    done = node("delegate", "--resume", "--json", data_dir=ready_node / "empty")
    assert done.code == 0 and done.json() == {"jobs": []}, done.err
    done = node("delegate", "--resume", "0xabc", data_dir=ready_node / "empty")
    assert done.code == 2 and "there is no job store at" in done.err
    assert not (ready_node / "empty" / "jobs.sqlite").exists()
    # A job it can take up passes every check; then the chain is needed (unreachable here).
    for args in (["--resume", hex(open_job)], ["--resume"]):
        done = node("delegate", *args, data_dir=ready_node)
        assert done.code == 1 and "cannot reach the Starknet node" in done.err, done.err
    assert states(ready_node) == before
