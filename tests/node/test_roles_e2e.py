"""The roles end to end, as separate processes: a devnet, a validator, executors, delegators.

One network for the module (starting nodes costs seconds each); each test delegates its own
jobs. A rogue libp2p node inside the test process publishes what no honest delegator would.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
import sqlite3
import time
import urllib.request
from collections.abc import Iterator
from functools import partial

import pytest
import trio
from libp2p.crypto.ed25519 import create_new_key_pair

from cairo_jobs.examples import EXAMPLES, compiled, example_hints
from cairo_jobs.facts import fact_hash, output_digest
from cairo_jobs.model import RunRequest
from cairo_jobs.pool import RunnerPool
from cairo_jobs.program import load_program, program_hash
from cairo_jobs.streaming import log_commitment
from cairo_jobs.vm import execute
from node.config import load_config
from node.localnet import LocalNetwork, NodeProcess
from node.roles.admission import MIN_TIME_LEFT_S
from node.roles.executor import RESUMABLE, Executor
from node.roles.services import open_services
from node.roles.volumes import joined_output, offer_output_volumes, output_volume_refs, volume_bytes
from node.wallet import Wallet
from p2p import limits, params
from p2p.host import HostConfig
from p2p.messages import (
    Assignment,
    JobBody,
    JobHeader,
    JobWitness,
    SignedJobHeader,
    WitnessNotice,
)
from p2p.node import run_node
from p2p.signing import job_hash, sign_assignment, sign_header, sign_notice
from p2p.stark import StarkKeyPair
from p2p.validation import Verdict
from registry_contract.client import FactRegistryClient, Refusal, Refused, RegistryClient
from tests.node.cli_run import run_cli
from tests.node.liars import LyingPool
from tests.node.stream_cli import delegate_stream, stream_until
from tests.ports import free_port

pytestmark = pytest.mark.slow

VALIDATOR, DELEGATOR, EXECUTOR_1, EXECUTOR_2, EXECUTOR_3, PAUPER, PROVER, LIAR = range(8)
REWARD = 10**15
FIBONACCI = EXAMPLES["fibonacci"].path


@pytest.fixture(scope="module")
def network(localnet: LocalNetwork) -> Iterator[LocalNetwork]:
    with localnet.scoped() as net:
        net.deposit(DELEGATOR, 10**18)
        net.start("validate", "validator", VALIDATOR)
        net.start("serve", "executor-1", EXECUTOR_1, "--status-port", str(free_port()))
        net.start("serve", "executor-2", EXECUTOR_2, "--status-port", str(free_port()),
                  settings={"executor.max_jobs": "1"})  # see test_max_jobs_1_...
        yield net


def executors(network: LocalNetwork) -> list[NodeProcess]:
    return [node for node in network.nodes if node.name.startswith("executor")]


def stored_jobs(network: LocalNetwork, name: str) -> dict[int, tuple[str, str | None]]:
    """Node `name`'s jobs: job hash -> (state, payout tx)."""
    path = network.data_dir(name) / "jobs.sqlite"
    if not path.exists():
        return {}
    with sqlite3.connect(path) as db:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'jobs'").fetchone():
            return {}  # a starting node has created the file, not yet committed its schema
        rows = db.execute("SELECT job_hash, state, payout_tx FROM jobs").fetchall()
    return {int(key, 16): (state, tx) for key, state, tx in rows}


def metric(node: NodeProcess, name: str, **labels: str) -> float:
    """A counter's value on the node's /metrics endpoint (0 when absent)."""
    return metric_at(node.ready["status_port"], name, **labels)


def metric_at(port: int, name: str, **labels: str) -> float:
    """A counter's value on the /metrics endpoint at `port` (0 when absent)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}(?:\{{(.*)\}})? (\S+)", line)
        if match and ",".join(sorted((match.group(1) or "").split(","))) == wanted:
            return float(match.group(2))
    return 0.0


def wallet_of(network: LocalNetwork, account_index: int) -> Wallet:
    info = network.account(account_index)
    return Wallet(int(info["address"], 16),
                  StarkKeyPair.from_private_key(int(info["private_key"], 16)),
                  int(network.devnet.info["chain_id"], 16))  # type: ignore[union-attr]


def registry_client(network: LocalNetwork, account_index: int) -> RegistryClient:
    return RegistryClient(wallet_of(network, account_index).account(network.url),
                          network.contracts()["registry"], network.contracts()["token"])


def test_a_job_is_paid_once_to_one_executor_with_its_output(network: LocalNetwork) -> None:
    outcome = network.delegate(FIBONACCI, {"n": 12}, REWARD, account_index=DELEGATOR).outcome()

    assert outcome["state"] == "paid"
    assert [int(felt, 16) for felt in outcome["output"]] == [12, 144]
    key, tx = int(outcome["job"], 16), outcome["transaction"]
    paid = [n.name for n in executors(network)
            if stored_jobs(network, n.name).get(key, (None,))[0] == "paid"]
    assert len(paid) == 1
    assert int(stored_jobs(network, paid[0])[key][1], 16) == int(tx, 16)
    assert outcome["executor"] == network.account([EXECUTOR_1, EXECUTOR_2][
        [n.name for n in executors(network)].index(paid[0])])["address"]
    assert stored_jobs(network, "delegator")[key][0] == "paid"

    # The same witness once more, by the other executor: the Registry refuses it.
    with sqlite3.connect(network.data_dir("delegator") / "jobs.sqlite") as db:
        (header,) = db.execute("SELECT header FROM jobs WHERE job_hash = ?",
                               (f"{key:#066x}",)).fetchone()
    other = EXECUTOR_2 if paid[0] == "executor-1" else EXECUTOR_1
    with pytest.raises(Refused) as refused:
        asyncio.run(registry_client(network, other).submit_witness(
            SignedJobHeader.decode(header), [12, 144]))
    assert refused.value.refusal is Refusal.ALREADY_PAID


def test_a_job_reads_its_input_volume(network: LocalNetwork, tmp_path) -> None:
    leaves = [secrets.randbits(200) for _ in range(8)]
    volume = tmp_path / "leaves.json"
    volume.write_text(json.dumps(leaves))
    expected = execute(RunRequest(compiled("merkle_root"), {"leaves": leaves},
                                  EXAMPLES["merkle_root"].layout)).output

    outcome = network.delegate(EXAMPLES["merkle_root"].path, {}, REWARD,
                               "--volume", f"leaves={volume}",
                               account_index=DELEGATOR).outcome()

    assert outcome["state"] == "paid"
    assert [int(felt, 16) for felt in outcome["output"]] == expected


def test_an_output_too_large_for_the_chain_is_paid_on_its_digest(
    network: LocalNetwork, tmp_path
) -> None:
    # Meanwhile a job whose output is not the sections it declares: it fails, unpaid.
    unsectioned = network.delegate(FIBONACCI, {"n": 3}, REWARD, "--output-volume", "result",
                                   account_index=DELEGATOR, name="delegator-unsectioned",
                                   settings={"delegator.assignment_window": "240"})
    n = limits.MAX_OUTPUT_FELTS
    output = [n, *(1 + i * i for i in range(n))]  # squares' documented output
    assert len(output) > limits.MAX_OUTPUT_FELTS  # too many felts for a witness's output

    # A long window: one executor runs it (a re-assignment would run it twice).
    outcome = network.delegate(EXAMPLES["squares"].path, {"seed": 1, "n": n}, REWARD,
                               "--output-volume", "table", "--output-dir", str(tmp_path),
                               account_index=DELEGATOR,
                               settings={"delegator.assignment_window": "240"}).outcome()

    assert outcome["state"] == "paid" and outcome["output"] == []
    assert int(outcome["output_digest"], 16) == output_digest(output)
    (volume,) = outcome["output_volumes"]
    data = (tmp_path / "table.json").read_bytes()
    assert data == volume_bytes(output[1:]) and volume["file"] == str(tmp_path / "table.json")
    assert volume["sha256"] == hashlib.sha256(data).hexdigest() and volume["felts"] == n

    key = int(unsectioned.wait_for("published")["job"], 16)
    deadline = time.monotonic() + 120
    while not (failed := [node.name for node in executors(network)
                          if stored_jobs(network, node.name).get(key, (None,))[0] == "failed"]):
        assert time.monotonic() < deadline, [n.log()[-2000:] for n in executors(network)]
        time.sleep(1)
    assert "output volume 'result' declares 3 felts" in _last_reason(network, failed[0], key)
    assert not asyncio.run(registry_client(network, DELEGATOR).job_state(key)).paid
    unsectioned.process.terminate()
    unsectioned.process.wait(60)


async def test_a_witness_whose_output_volume_lies_is_refused_by_the_validator(
    network: LocalNetwork,
) -> None:
    """A rogue executor announces a witness whose volume is served and hashes right, and whose
    digest is that of the volume, but is not the run's section; another names a digest that is
    not its volume's. The validator refuses both and registers no fact."""
    chain_id = int(network.devnet.info["chain_id"], 16)  # type: ignore[union-attr]
    delegator, liar = wallet_of(network, DELEGATOR), wallet_of(network, PAUPER)
    program = compiled("squares")
    body = JobBody(program=program, program_input=json.dumps({"seed": 1, "n": 8}).encode(),
                   layout="small", output_volumes=("table",))
    header = JobHeader(chain_id=chain_id, registry=network.contracts()["registry"],
                       delegator=delegator.address, body_id=body.body_id,
                       program_hash=program_hash(load_program(program.decode())),
                       max_steps=10**6, reward=REWARD, deadline=int(time.time()) + 600,
                       nonce=secrets.randbits(64))
    signed = sign_header(header, delegator.key)
    truth = [8, *(1 + i * i for i in range(8))]
    lie = {"table": [*truth[1:-1], truth[-1] + 1]}
    witnesses = {
        "not the run's": dict(output_digest=output_digest(joined_output(lie.values()))),
        "not its volume's": dict(output_digest=output_digest(truth)),
    }
    notices = {}
    for case, fields in witnesses.items():
        witness = JobWitness(job_hash=job_hash(header), executor=liar.address, output=(),
                             mode="reexec", security_bits=0, proof=b"", proof_id=b"",
                             run_ms=len(notices), prove_ms=0,
                             output_volumes=output_volume_refs(lie), **fields)
        witnesses[case] = witness
        notice = WitnessNotice(job_hash(header), liar.address,
                               hashlib.sha256(witness.encode()).digest())
        notices[notice.witness_id.hex()] = sign_notice(notice, signed, liar.key)
    validator = next(node for node in network.nodes if node.name == "validator")
    config = HostConfig(bootstrap=tuple(node.address for node in network.nodes
                                        if node.process.poll() is None))
    anything = {topic: (lambda data, origin: Verdict.accept()) for topic in params.ALL_TOPICS}
    async with run_node(create_new_key_pair(), config, anything) as rogue:
        rogue.content.offer(params.NS_BODY, body.encode())
        for witness in witnesses.values():
            rogue.content.offer(params.NS_WITNESS, witness.encode())
        offer_output_volumes(rogue.content, lie)
        for topic in params.ALL_TOPICS:
            await rogue.gossip.subscribe(topic)
        await trio.sleep(2)  # the mesh forms
        with trio.move_on_after(90):
            while len(_checked(validator, job_hash(header))) < len(notices):
                for notice in notices.values():  # its signer's key is learned from a first copy
                    await rogue.gossip.publish(params.TOPIC_DONE, notice.encode())
                await trio.sleep(1)

    checked = _checked(validator, job_hash(header))
    assert [c["valid"] for c in checked] == [False, False], validator.log()[-3000:]
    assert {c["reason"] for c in checked} == {
        "the claimed output differs from the re-executed one",
        f"the output volumes are not the output of digest {output_digest(truth):#x}: "
        "their joined sections hash to another",
    }
    facts = FactRegistryClient(wallet_of(network, VALIDATOR).account(network.url),
                               network.contracts()["fact_registry"])
    lied = fact_hash(header.program_hash, joined_output(lie.values()))
    assert not asyncio.run(facts.is_valid(lied))


def _checked(validator: NodeProcess, key: int) -> list[dict]:
    """The validator's reports on witnesses of job `key`."""
    events = [json.loads(line) for line in list(validator.lines) if line.startswith("{")]
    return [e for e in events if e.get("event") == "witness" and int(e["job_hash"], 16) == key]


def _last_reason(network: LocalNetwork, name: str, key: int) -> str:
    with sqlite3.connect(network.data_dir(name) / "jobs.sqlite") as db:
        (reason,) = db.execute("SELECT reason FROM history WHERE job_hash = ? ORDER BY id DESC",
                               (f"{key:#066x}",)).fetchone()
    return reason


def test_without_wait_the_delegator_leaves_once_the_witness_is_announced(
    network: LocalNetwork,
) -> None:
    delegating = network.delegate(FIBONACCI, {"n": 15}, REWARD, account_index=DELEGATOR,
                                  wait=False)
    outcome = delegating.outcome()

    assert outcome["state"] == "assigned" and delegating.process.returncode == 0
    assert [e["event"] for e in delegating.events][-1] == "announced"
    key = int(outcome["job"], 16)
    deadline = time.monotonic() + 120  # the executor completes it without the delegator
    while not any(stored_jobs(network, node.name).get(key, (None,))[0] == "paid"
                  for node in executors(network)):
        assert time.monotonic() < deadline, [n.log()[-2000:] for n in executors(network)]
        time.sleep(1)
    assert stored_jobs(network, "delegator")[key][0] == "assigned"

    # The delegator's next run records the payment it did not wait for.
    again = network.delegate(FIBONACCI, {"n": 16}, REWARD, account_index=DELEGATOR)
    assert again.outcome()["state"] == "paid"
    state, payout = stored_jobs(network, "delegator")[key]
    paid_by = [stored_jobs(network, node.name)[key][1] for node in executors(network)
               if stored_jobs(network, node.name).get(key, (None,))[0] == "paid"]
    assert state == "paid" and [int(payout, 16)] == [int(tx, 16) for tx in paid_by]


async def test_headers_that_must_not_run_are_dropped_and_garbage_is_survived(
    network: LocalNetwork,
) -> None:
    contracts = network.contracts()
    chain_id = int(network.devnet.info["chain_id"], 16)  # type: ignore[union-attr]
    pauper = network.account(PAUPER)
    delegator = network.account(DELEGATOR)

    def header(delegator_address: str, reward: int = REWARD, seconds: int = 600) -> JobHeader:
        return JobHeader(chain_id=chain_id, registry=contracts["registry"],
                         delegator=int(delegator_address, 16), body_id=secrets.token_bytes(32),
                         program_hash=secrets.randbits(250), max_steps=1000, reward=reward,
                         deadline=int(time.time()) + seconds, nonce=secrets.randbits(64))

    insolvent = sign_header(header(pauper["address"]),
                            StarkKeyPair.from_private_key(int(pauper["private_key"], 16)))
    forged = sign_header(header(delegator["address"]), StarkKeyPair.generate())
    # Signed by the funded delegator, but not worth running: each is declined with its reason.
    delegator_key = StarkKeyPair.from_private_key(int(delegator["private_key"], 16))
    declined = {
        "reward too low": sign_header(header(delegator["address"], reward=0), delegator_key),
        "already paid": sign_header(header(delegator["address"]), delegator_key),
        "insolvent delegator": insolvent,
    }
    await trio.to_thread.run_sync(pay_without_gossip, network, declined["already paid"])
    garbage = [secrets.token_bytes(n) for n in (1, 50, 700)]
    everything = {
        params.TOPIC_JOBS: [forged.encode(), *garbage],
        **{topic: garbage for topic in params.ALL_TOPICS if topic != params.TOPIC_JOBS},
    }
    # A delegator with a job open all along (a long bid window), which the rogues reach too.
    listen, status_port = free_port(), free_port()
    delegating = network.delegate(FIBONACCI, {"n": 7}, REWARD, "--listen",
                                  f"/ip4/127.0.0.1/tcp/{listen}", "--status-port",
                                  str(status_port), account_index=DELEGATOR,
                                  settings={"delegator.bid_window": "20"})
    ready = await trio.to_thread.run_sync(delegating.wait_for, "ready")
    delegator_address = f"/ip4/127.0.0.1/tcp/{listen}/p2p/{ready['peer_id']}"
    config = HostConfig(bootstrap=(*(node.address for node in network.nodes), delegator_address))
    anything = {topic: (lambda data, origin: Verdict.accept()) for topic in params.ALL_TOPICS}
    # Two senders: the rejected messages graylist theirs, and the valid header must get through.
    async with run_node(create_new_key_pair(), config, anything) as poor, run_node(
        create_new_key_pair(), config, anything
    ) as rogue:
        for topic in params.ALL_TOPICS:
            await poor.gossip.subscribe(topic)
            await rogue.gossip.subscribe(topic)
        await trio.sleep(2)  # the mesh forms
        declined["deadline too close"] = sign_header(
            header(delegator["address"], seconds=int(MIN_TIME_LEFT_S) - 1), delegator_key)
        # First the valid headers alone (a signer's key is learned from its first copy),
        # then the forged one and the garbage.
        with trio.move_on_after(60):
            while not all(_declined_all(node, declined) for node in executors(network)):
                for signed in declined.values():
                    await poor.gossip.publish(params.TOPIC_JOBS, signed.encode())
                await trio.sleep(0.5)
        with trio.move_on_after(60):
            while not (all(_rejected_rogue(node) for node in executors(network))
                       and _rejected_at(status_port)):
                for topic, messages in everything.items():
                    for message in messages:
                        await rogue.gossip.publish(topic, message)
                await trio.sleep(0.5)

    for node in executors(network):
        assert _declined_all(node, declined) and _rejected_rogue(node), node.log()[-3000:]
        jobs = stored_jobs(network, node.name)
        for signed in (*declined.values(), forged):
            assert job_hash(signed.header) not in jobs
        for reason, signed in declined.items():  # and each is logged with its reason
            assert f'job={job_hash(signed.header):#x} reason="{reason}"' in node.log()
    assert all(node.process.poll() is None for node in network.nodes)  # all still running
    assert _rejected_at(status_port), delegating.events  # the delegator dropped them too
    outcome = await trio.to_thread.run_sync(delegating.outcome)
    assert outcome["state"] == "paid" and [int(f, 16) for f in outcome["output"]] == [7, 13]


def test_max_jobs_1_runs_two_jobs_given_at_once_one_after_the_other(
    network: LocalNetwork,
) -> None:
    """Executor 2 (`executor.max_jobs = 1`, before any test restarts it) is given two jobs at
    once: the second starts running only once the first has run."""
    single = next(node for node in executors(network) if node.name == "executor-2")
    delegations = [network.delegate(FIBONACCI, {"n": n}, REWARD, "--executor",
                                    single.ready["account"], account_index=DELEGATOR, name=name)
                   for n, name in ((23, "delegator"), (24, "delegator-second"))]
    outcomes = [delegating.outcome() for delegating in delegations]

    assert [o["state"] for o in outcomes] == ["paid", "paid"], outcomes
    assert {o["executor"] for o in outcomes} == {single.ready["account"]}
    first, second = sorted(_ran(network, single.name, int(o["job"], 16)) for o in outcomes)
    assert first[1] <= second[0], (first, second)


def _ran(network: LocalNetwork, name: str, key: int) -> tuple[float, float]:
    """When node `name` started running job `key` and when it went on to proving it."""
    with sqlite3.connect(network.data_dir(name) / "jobs.sqlite") as db:
        at = dict(db.execute("SELECT to_state, at FROM history WHERE job_hash = ?"
                             " AND to_state IN ('running', 'proving')", (f"{key:#066x}",)))
    return at["running"], at["proving"]


async def test_a_body_that_is_not_the_headers_program_fails_the_job_unpaid(
    network: LocalNetwork,
) -> None:
    """A delegator's header names another program hash than its body's: the assigned executor
    fetches the body (its sha256 holds), runs it, finds the program hash differs and fails the
    job with the reason; nothing is paid."""
    chain_id = int(network.devnet.info["chain_id"], 16)  # type: ignore[union-attr]
    delegator = wallet_of(network, DELEGATOR)
    body = JobBody(program=compiled("fibonacci"), program_input=b'{"n":4}', layout="small")
    header = JobHeader(chain_id=chain_id, registry=network.contracts()["registry"],
                       delegator=delegator.address, body_id=body.body_id,
                       program_hash=secrets.randbits(250), max_steps=10**6, reward=REWARD,
                       deadline=int(time.time()) + 600, nonce=secrets.randbits(64))
    signed, key = sign_header(header, delegator.key), job_hash(header)
    target = next(node for node in executors(network) if node.name == "executor-2")
    assignment = sign_assignment(
        Assignment(key, int(target.ready["account"], 16), int(time.time()) + 120, 0),
        chain_id, delegator.address, delegator.key)
    config = HostConfig(bootstrap=tuple(node.address for node in network.nodes
                                        if node.process.poll() is None))
    anything = {topic: (lambda data, origin: Verdict.accept()) for topic in params.ALL_TOPICS}
    async with run_node(create_new_key_pair(), config, anything) as rogue:
        rogue.content.offer(params.NS_BODY, body.encode())
        for topic in params.ALL_TOPICS:
            await rogue.gossip.subscribe(topic)
        await trio.sleep(2)  # the mesh forms
        with trio.move_on_after(90):
            while stored_jobs(network, target.name).get(key, ("",))[0] != "failed":
                await rogue.gossip.publish(params.TOPIC_JOBS, signed.encode())
                await rogue.gossip.publish(params.TOPIC_ASSIGNMENTS, assignment.encode())
                await trio.sleep(0.5)

    assert stored_jobs(network, target.name).get(key, ("",))[0] == "failed", target.log()[-3000:]
    assert f"is not the header's {header.program_hash:#x}" in _last_reason(network, target.name,
                                                                          key)
    job = await trio.to_thread.run_sync(asyncio.run, registry_client(network, DELEGATOR)
                                        .job_state(key))
    assert not job.paid and target.process.poll() is None


def pay_without_gossip(network: LocalNetwork, signed: SignedJobHeader) -> None:
    """Have the Registry pay the job (a fact for output [1], submitted by another account)
    without its header ever being gossiped."""
    facts = FactRegistryClient(wallet_of(network, VALIDATOR).account(network.url),
                               network.contracts()["fact_registry"])
    asyncio.run(facts.register_fact(fact_hash(signed.header.program_hash, [1]), 0))
    asyncio.run(registry_client(network, PAUPER).submit_witness(signed, [1]))


def _declined_all(node: NodeProcess, declined: dict[str, SignedJobHeader]) -> bool:
    return all(metric(node, "zetina_messages_dropped_total", topic=params.TOPIC_JOBS,
                      reason=reason) >= 1 for reason in declined)


def _rejected_rogue(node: NodeProcess) -> bool:
    return _rejected_at(node.ready["status_port"])


def _rejected_at(port: int) -> bool:
    """Whether the node whose /metrics is at `port` dropped a forged and a garbage header
    (False when it does not answer)."""
    try:
        return all(metric_at(port, "zetina_gossip_messages_dropped_total", reason=reason) >= 1
                   for reason in ("bad signature", "undecodable header"))
    except OSError:
        return False


def test_a_killed_assignee_is_replaced_and_the_job_is_paid_once(network: LocalNetwork) -> None:
    network.start("serve", "executor-3", EXECUTOR_3)
    delegating = network.delegate(FIBONACCI, {"n": 20}, REWARD, account_index=DELEGATOR,
                                  settings={"delegator.assignment_window": "20"})
    first = delegating.wait_for("assigned")["executor"]
    victim = next(n for n in executors(network) if n.ready["account"] == hex(int(first, 16)))
    victim.kill()  # it dies before it can submit
    outcome = delegating.outcome()

    assert outcome["state"] == "paid" and outcome["attempts"] >= 2
    assert int(outcome["executor"], 16) != int(first, 16)
    assert [int(felt, 16) for felt in outcome["output"]] == [20, 6765]
    key = int(outcome["job"], 16)

    # Restarted, the killed executor picks its job up again and learns it was paid to another.
    network.nodes.remove(victim)
    account = [EXECUTOR_1, EXECUTOR_2, EXECUTOR_3][
        ["executor-1", "executor-2", "executor-3"].index(victim.name)]
    restarted = network.start("serve", victim.name, account, "--status-port", str(free_port()))
    deadline = time.monotonic() + 120
    while stored_jobs(network, victim.name)[key][0] != "failed":
        assert time.monotonic() < deadline, restarted.log()[-3000:]
        time.sleep(1)
    assert "already paid" in _last_reason(network, victim.name, key)


def test_an_executor_killed_mid_job_resumes_it_once_restarted_and_is_paid_once(
    network: LocalNetwork,
) -> None:
    """The delegator holds the assignment's window while the assignee is down: restarted, it
    takes the job up again from its store and completes it."""
    victim = next(n for n in executors(network)
                  if n.name == "executor-1" and n.process.poll() is None)
    delegating = network.delegate(FIBONACCI, {"n": 21}, REWARD, "--executor",
                                  victim.ready["account"], account_index=DELEGATOR,
                                  settings={"delegator.assignment_window": "120"})
    key = int(delegating.wait_for("published")["job"], 16)
    deadline = time.monotonic() + 120
    while stored_jobs(network, victim.name).get(key, ("",))[0] not in RESUMABLE:
        assert time.monotonic() < deadline, victim.log()[-3000:]
        time.sleep(0.02)
    victim.kill()  # mid-job: running it, or waiting for its fact
    network.nodes.remove(victim)
    restarted = network.start("serve", victim.name, EXECUTOR_1,
                              "--status-port", str(free_port()))
    outcome = delegating.outcome()

    assert outcome["state"] == "paid" and outcome["attempts"] == 1, restarted.log()[-3000:]
    assert outcome["executor"] == victim.ready["account"]
    assert [int(felt, 16) for felt in outcome["output"]] == [21, 10946]
    assert re.search(rf"resuming job job={key:#x} state=({'|'.join(RESUMABLE)})\n",
                     restarted.log())
    state, payout = stored_jobs(network, victim.name)[key]
    assert state == "paid" and int(payout, 16) == int(outcome["transaction"], 16)
    others = [n.name for n in executors(network) if n.name != victim.name]
    assert all(stored_jobs(network, name).get(key, ("bidding",))[0] != "paid" for name in others)
    # What its status endpoint shows: jobs by state, the steps' durations, its peers, bytes.
    assert metric(restarted, "zetina_jobs", state="paid") >= 1
    assert metric(restarted, "zetina_step_duration_seconds_count", step="fetch") >= 1
    assert metric(restarted, "zetina_peers") >= 1
    assert metric(restarted, "zetina_bytes_received_total") > 0
    assert metric(restarted, "zetina_bytes_sent_total") > 0
    port = restarted.ready["status_port"]
    health = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/health",
                                               timeout=10).read())
    assert health["status"] == "ok" and health["checks"]["peers"]["ok"]


def test_a_delegator_killed_before_it_assigned_takes_its_job_up_again_paid_once(
    network: LocalNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`node delegate --wait` is killed inside its bid window; a plain run then points at the
    job left open; `node delegate --resume` assigns it, sees it paid, and refuses to take up
    the paid job again."""
    name = "delegator-resumed"  # its own store: the resume takes up this job alone
    killed = network.delegate(FIBONACCI, {"n": 22}, REWARD, account_index=DELEGATOR, name=name,
                              settings={"delegator.bid_window": "10"})
    deadline = time.monotonic() + 120
    try:
        while not (bidding := [key for key, (state, _) in stored_jobs(network, name).items()
                               if state == "bidding"]):
            assert time.monotonic() < deadline and killed.process.poll() is None, killed.events
            time.sleep(0.05)
    finally:  # killed even if this test fails: its job must not be paid during the next one
        killed.process.kill()  # published, collecting bids: no assignment yet
        killed.process.wait()
    (key,) = bidding
    assert stored_jobs(network, name)[key][0] == "bidding"

    # A plain run names the job it could take up (then fails: the escrow is short).
    hinted = network.delegate(FIBONACCI, {"n": 3}, 10**30, account_index=DELEGATOR, name=name)
    with pytest.raises(RuntimeError, match="node deposit"):
        hinted.outcome()
    assert hinted.wait_for("resumable")["jobs"] == [hex(key)]

    resumed = network.resume(account_index=DELEGATOR, name=name)
    (outcome,) = resumed.outcome()["jobs"]

    assert outcome["job"] == hex(key) and outcome["state"] == "paid", resumed.events
    assert [int(felt, 16) for felt in outcome["output"]] == [22, 17711]
    assert resumed.wait_for("resumed")["state"] == "bidding"
    assert all(event["job"] == hex(key) for event in resumed.events if event["event"] != "ready")
    with sqlite3.connect(network.data_dir(name) / "jobs.sqlite") as db:
        history = [state for (state,) in db.execute(
            "SELECT to_state FROM history WHERE job_hash = ? ORDER BY id", (f"{key:#066x}",))]
    assert history == ["published", "bidding", "assigned", "submitted", "paid"]
    assert int(stored_jobs(network, name)[key][1], 16) == int(outcome["transaction"], 16)
    paid_by = [node.name for node in executors(network)
               if stored_jobs(network, node.name).get(key, ("",))[0] == "paid"]
    assert len(paid_by) == 1

    for variable, value in network.env(DELEGATOR).items():
        if variable.startswith("ZETINA_"):
            monkeypatch.setenv(variable, value)
    again = run_cli("delegate", "--resume", hex(key), "--json", "--config",
                    str(network.config_path), "--data-dir", str(network.data_dir(name)))
    assert again.code == 1 and "already paid" in again.json()["error"]


def test_a_job_nobody_takes_expires_and_the_escrow_keeps_the_reward(
    network: LocalNetwork,
) -> None:
    registry = registry_client(network, DELEGATOR)
    before = asyncio.run(registry.balance_of())
    too_long = str(10**9)  # above every executor's executor.max_steps
    # The delegator's node identity is the one its previous runs had, seconds ago: its new
    # messages must still reach everyone (message ids are not reused across restarts).
    delegating = network.delegate(FIBONACCI, {"n": 3}, REWARD, "--max-steps", too_long,
                                  "--deadline", "15", account_index=DELEGATOR)
    outcome = delegating.outcome()
    assert outcome["state"] == "expired" and "reward stays in your escrow" in outcome["error"]
    assert delegating.process.returncode == 1
    assert asyncio.run(registry.balance_of()) == before
    key = int(outcome["job"], 16)
    assert stored_jobs(network, "delegator")[key][0] == "expired"
    declined = 0.0
    for node in executors(network):
        assert key not in stored_jobs(network, node.name)
        if node.ready["status_port"]:
            declined += metric(node, "zetina_messages_dropped_total", topic=params.TOPIC_JOBS,
                               reason="too many steps")
    assert declined >= 1  # the header did reach executors, which declined it


def test_a_delegator_without_escrow_is_told_to_deposit(network: LocalNetwork) -> None:
    delegating = network.delegate(FIBONACCI, {"n": 3}, REWARD, account_index=PAUPER,
                                  name="pauper")
    with pytest.raises(RuntimeError, match="node deposit"):
        delegating.outcome()
    assert delegating.process.returncode == 1


STAKE = 10**18
"""What a staking executor puts in: one token, the default `stream.min_stake`."""


def stake(network: LocalNetwork, name: str, account_index: int) -> None:
    """Make sure the account stakes STAKE."""
    registry = registry_client(network, account_index)
    if asyncio.run(registry.stake_of(address(network, account_index))) >= STAKE:
        return
    if not (network.data_dir(name) / "keystore.json").exists():
        network.import_keys(name, account_index)
    done = network.node_command("stake", f"{STAKE}fri", "--json", name=name,
                                account_index=account_index)
    assert done.returncode == 0, done.stderr


def address(network: LocalNetwork, account_index: int) -> int:
    return int(network.account(account_index)["address"], 16)


def serving(network: LocalNetwork) -> set[int]:
    """The accounts of the executor processes running now."""
    return {int(node.ready["account"], 16) for node in executors(network)
            if node.process.poll() is None}


def test_executors_without_stake_are_not_assigned_a_stream_session(network: LocalNetwork):
    events = stream_until(network, DELEGATOR, REWARD, "no_qualified_bid",
                          name="delegator-unstaked")

    skipped = [e for e in events if e["event"] == "skipped"]
    assert skipped and all(e["stake"] == 0 and e["min_stake"] == STAKE for e in skipped)
    assert {int(e["executor"], 16) for e in skipped} <= serving(network)
    assert not [e for e in events if e["event"] in ("assigned", "session")], events


def test_a_stream_session_answers_stdin_and_is_paid_once_for_its_log(network: LocalNetwork):
    """Only executor 1 stakes: it has the session; no second executor qualifies, so the asked
    cross-check is off and the session goes on unchecked."""
    stake(network, "executor-1", EXECUTOR_1)
    requests = [[1, 2, 3], [40, 2], []]
    lines = [json.dumps(requests[0]), "not json", json.dumps(requests[1]),
             json.dumps(list(range(1001))), "[-1]", json.dumps(requests[2])]

    replies, events, outcome = delegate_stream(network, DELEGATOR, REWARD, lines,
                                               "--skew-ms", "3000", "--cross-check", "1")

    (assigned,) = [e for e in events if e["event"] == "assigned"]
    assert int(assigned["executor"], 16) == address(network, EXECUTOR_1)
    (off,) = [e for e in events if e["event"] == "cross_check_off"]
    assert "no second executor with enough stake" in off["reason"]
    assert "unchecked" in off["reason"] and "no second executor" in outcome["cross_check"]["off"]
    # Every other running executor is unstaked (those whose bids came in the window).
    left_out = [int(e["executor"], 16) for e in events if e["event"] == "checker_skipped"]
    assert left_out and set(left_out) <= serving(network) - {address(network, EXECUTOR_1)}
    assert not [e for e in events if e["event"] == "checker_assigned"]

    assert [reply["input"] for reply in replies] == requests, events
    assert all(reply["verified"] for reply in replies)
    assert replies[0]["output"][0] == 6 and replies[1]["output"][0] == 42
    assert [e["line"] for e in events if e["event"] == "bad_request"] == [2, 5]
    (refused,) = [e for e in events if e["event"] == "refused"]
    assert refused["line"] == 4 and "the program failed on this request" in refused["error"]

    assert outcome["state"] == "paid" and outcome["log_matches"] is True
    expected = log_commitment((r["input"], r["output"]) for r in replies)
    assert [int(felt, 16) for felt in outcome["output"]] == expected
    key = int(outcome["job"], 16)
    paid = {n.name: stored_jobs(network, n.name).get(key) for n in executors(network)}
    assert [state for state, _ in filter(None, paid.values())].count("paid") == 1
    assert stored_jobs(network, "delegator-stream")[key][0] == "paid"


async def test_a_lying_executor_is_caught_by_cross_validation_and_slashed(
    network: LocalNetwork,
) -> None:
    """A staked executor that lies on requests holding 13 (in this process, the real executor
    code over lying Cairo runs) is cheapest, so it holds one of the two sessions and staked
    executor 1 the other; the client proves the truth, has it registered and reports it."""
    liar, honest = address(network, LIAR), address(network, EXECUTOR_1)
    for name, account in (("liar", LIAR), ("executor-1", EXECUTOR_1)):
        await trio.to_thread.run_sync(stake, network, name, account)
    environ = network.env(LIAR)
    config = load_config(network.config_path, environ, {
        "node.data_dir": str(network.data_dir("liar")), "executor.price_ratio": 0.5,
        "p2p.bootstrap": [node.address for node in network.nodes]})
    lines = [json.dumps(request) for request in ([2], [13, 4], [5])]

    async with open_services(config, "executor", environ) as services, RunnerPool(1) as pool:
        lying = LyingPool(pool, lambda run: 13 in run.program_input.get("request", ()))
        executor = Executor(services, lying, example_hints())  # type: ignore[arg-type]
        async with trio.open_nursery() as nursery:
            await nursery.start(executor.run)
            [liar_peer] = services.ready_info()["addrs"][:1]
            replies, events, outcome = await trio.to_thread.run_sync(partial(
                delegate_stream, network, DELEGATOR, REWARD, lines, "--cross-check", "1",
                "--bootstrap", liar_peer, name="delegator-xval", program="stream_squares"))
            nursery.cancel_scope.cancel()

    assert [reply["input"] for reply in replies] == [[2], [13, 4], [5]], (events, outcome)
    checked = outcome["cross_check"]
    assert "checked" in checked and checked["off"] is None, (checked, events)
    assert (checked["checked"], checked["mismatches"]) == (3, 1), events
    [mismatch] = [e for e in events if e["event"] == "mismatch"]
    assert mismatch["input"] == [13, 4]
    [cheater] = checked["cheaters"]
    assert int(cheater["executor"], 16) == liar and cheater["slashed"] == STAKE
    assert {int(checked["executor"], 16), int(outcome["executor"], 16)} == {liar, honest}
    registry = registry_client(network, DELEGATOR)
    stakes = await trio.to_thread.run_sync(asyncio.run, stakes_of(registry, [liar, honest]))
    assert stakes == [0, STAKE]
    shown = await trio.to_thread.run_sync(partial(
        network.node_command, "events", "--type", "CheatReported", "--json",
        name="delegator-xval", account_index=DELEGATOR))
    reports = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [(r["executor"], r["slashed"]) for r in reports] == [(cheater["executor"], STAKE)]


async def stakes_of(registry: RegistryClient, executors: list[int]) -> list[int]:
    return [await registry.stake_of(executor) for executor in executors]


def test_a_native_proof_is_verified_and_its_bits_registered(network: LocalNetwork) -> None:
    """Near the end of the module: its executor, the cheapest bidder, stays for the rest."""
    start_prover(network)

    # A long bid window: the new node learns the delegator's key from the header's first copy;
    # --executor: on a loaded machine another executor's bid may come first.
    outcome = network.delegate(FIBONACCI, {"n": 30}, REWARD, "--executor",
                               network.account(PROVER)["address"], account_index=DELEGATOR,
                               settings={"delegator.bid_window": "4"}).outcome()

    assert outcome["state"] == "paid"
    assert outcome["executor"] == network.account(PROVER)["address"]
    output = [int(felt, 16) for felt in outcome["output"]]
    fib = [0, 1]
    while len(fib) <= 30:
        fib.append(fib[-1] + fib[-2])
    assert output == [30, fib[30]]
    program = load_program(compiled("fibonacci").decode())
    facts = FactRegistryClient(wallet_of(network, VALIDATOR).account(network.url),
                               network.contracts()["fact_registry"])
    bits = asyncio.run(facts.get_verification(fact_hash(program_hash(program), output)))
    assert bits >= 80  # the proof's conjectured security, registered by the validator


def test_a_validator_set_to_re_execute_registers_a_proved_job_with_no_proof_bits(
    network: LocalNetwork,
) -> None:
    """The module's validator gives way to one with `validator.reexecute`, which re-executes
    a proving executor's witness instead of verifying its proof."""
    start_prover(network)
    for node in network.nodes:
        if node.name == "validator":
            node.stop()
    checker = network.start("validate", "validator-reexec", VALIDATOR,
                            settings={"validator.reexecute": "true"})

    outcome = network.delegate(FIBONACCI, {"n": 25}, REWARD, "--executor",
                               network.account(PROVER)["address"], account_index=DELEGATOR,
                               settings={"delegator.bid_window": "4"}).outcome()

    assert outcome["state"] == "paid", checker.log()[-3000:]
    output = [int(felt, 16) for felt in outcome["output"]]
    assert output == [25, 75025]
    fact = fact_hash(program_hash(load_program(compiled("fibonacci").decode())), output)
    facts = FactRegistryClient(wallet_of(network, VALIDATOR).account(network.url),
                               network.contracts()["fact_registry"])
    assert asyncio.run(facts.is_valid(fact))
    assert asyncio.run(facts.get_verification(fact)) == 0
    key = int(outcome["job"], 16)
    deadline = time.monotonic() + 30
    while not (reports := job_reports(checker, key)) and time.monotonic() < deadline:
        time.sleep(0.2)  # its report line follows the fact's transaction
    assert [(report["security_bits"], report["valid"]) for report in reports] == [(0, True)]
    assert reports[0]["reason"].startswith("re-executed in"), reports


def start_prover(network: LocalNetwork) -> None:
    """A native-proving executor, the cheapest bidder (unless one runs already)."""
    if not any(node.name == "prover" and node.process.poll() is None for node in network.nodes):
        network.start("serve", "prover", PROVER, settings={
            "executor.prover": "native", "executor.price_ratio": "0.5"})


def job_reports(validator: NodeProcess, key: int) -> list[dict]:
    """The validator's `witness` reports of job `key` (others, re-announced, come too)."""
    reports = [json.loads(line) for line in list(validator.lines) if '"witness"' in line]
    return [report for report in reports if int(report["job_hash"], 16) == key]
