"""Synthetic jobs end to end: a validator scores an honest executor and a cheating one.

The devnet, the validator and the honest executor are separate processes. The cheating
executor runs in the test process: the real executor code, whose Cairo runs answer one more
than the truth in their last output felt (the one fault here that a real process cannot be made
to commit).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import trio

from cairo_jobs.examples import example_hints
from cairo_jobs.pool import RunnerPool
from node.config import load_config
from node.localnet import LocalNetwork, NodeProcess
from node.roles.executor import Executor
from node.roles.services import open_services
from tests.node.liars import LyingPool

pytestmark = pytest.mark.slow

VALIDATOR, HONEST, CHEAT = 0, 8, 9
SYNTHETIC = {
    "validator.synthetic_interval": "1",
    "validator.synthetic_deadline": "45",
    "validator.synthetic_size": "200",
    "validator.score_republish_interval": "5",
}


@pytest.fixture(scope="module")
def network(localnet: LocalNetwork) -> Iterator[LocalNetwork]:
    with localnet.scoped() as net:
        net.deposit(VALIDATOR, 10**18, name="scorer")
        net.start("serve", "honest", HONEST)
        net.start("validate", "scorer", VALIDATOR, settings=SYNTHETIC)
        yield net


def scores(validator: NodeProcess) -> dict[int, dict[str, Any]]:
    """The latest score line the validator printed for each executor."""
    latest: dict[int, dict[str, Any]] = {}
    for line in validator.lines:
        event = json.loads(line)
        if event.get("event") == "score":
            latest[int(event["executor"], 16)] = event
    return latest


async def test_synthetic_scores_follow_correctness(network: LocalNetwork) -> None:
    validator = next(node for node in network.nodes if node.name == "scorer")
    honest = int(network.account(HONEST)["address"], 16)
    cheat = int(network.account(CHEAT)["address"], 16)
    network.import_keys("cheat", CHEAT)
    environ = network.env(CHEAT)
    config = load_config(network.config_path, environ,
                         {"node.data_dir": str(network.data_dir("cheat")),
                          "p2p.bootstrap": [node.address for node in network.nodes]})

    def both_scored() -> bool:
        seen = scores(validator)
        return seen.get(honest, {}).get("correct", 0) >= 1 and seen.get(cheat, {}).get(
            "wrong", 0) >= 1

    async with open_services(config, "executor", environ) as services, RunnerPool(1) as pool:
        executor = Executor(services, LyingPool(pool), example_hints())  # type: ignore[arg-type]
        async with trio.open_nursery() as nursery:
            await nursery.start(executor.run)
            with trio.move_on_after(240):
                while not both_scored():
                    await trio.sleep(1)
            nursery.cancel_scope.cancel()

    seen = scores(validator)
    assert both_scored(), (seen, validator.log()[-4000:])
    assert seen[honest]["score"] > seen[cheat]["score"]
    assert seen[cheat]["correct"] == 0 and seen[honest]["wrong"] == 0
    assert seen[honest]["median_latency_ms"] > 0
