"""Jobs run with the short step path (`cairo_jobs.step`) give what cairo-lang's step gives:
the same output and steps, and in proof mode byte-identical trace, memory and public input."""

from __future__ import annotations

from pathlib import Path

import pytest
from starkware.cairo.lang.vm.relocatable import RelocatableValue

from cairo_jobs import step
from cairo_jobs.examples import EXAMPLES, compiled
from cairo_jobs.runner import FailureReason, RunFailure, RunRequest
from cairo_jobs.vm import execute

INPUTS = {
    "fibonacci": {"n": 40},
    "poseidon_chain": {"seed": 12345, "n": 5},
    "pedersen_range": {"values": [0, 5, 2**64, 999], "bound": 2**64},
    "merkle_root": {"leaves": list(range(100, 108))},
}


def request(name: str, work_dir: Path, proof_mode: bool, max_steps: int = 10**6) -> RunRequest:
    return RunRequest(program=compiled(name), program_input=INPUTS[name],
                      layout=EXAMPLES[name].layout, proof_mode=proof_mode, work_dir=work_dir,
                      max_steps=max_steps)


@pytest.mark.parametrize("name", ["fibonacci", "merkle_root"])  # the others pad big layouts
def test_proof_mode_artifacts_are_identical(name: str, tmp_path: Path) -> None:
    short = execute(request(name, tmp_path / "short", True), short_steps=True)
    stock = execute(request(name, tmp_path / "stock", True), short_steps=False)
    assert (short.output, short.steps, short.trace_steps) == (
        stock.output, stock.steps, stock.trace_steps)
    for artifact in ("public_input", "private_input", "trace", "memory"):
        short_bytes = getattr(short.artifacts, artifact).read_bytes()
        stock_bytes = getattr(stock.artifacts, artifact).read_bytes()
        if artifact == "private_input":  # it names its own trace and memory files
            short_bytes = short_bytes.replace(b"/short/", b"/stock/")
        assert short_bytes == stock_bytes, artifact


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_plain_runs_agree_and_keep_their_plans(name: str, tmp_path: Path) -> None:
    first = execute(request(name, tmp_path, False))
    again = execute(request(name, tmp_path, False))  # with the plans the first run made
    stock = execute(request(name, tmp_path, False), short_steps=False)
    assert first.output == again.output == stock.output
    assert first.steps == again.steps == stock.steps


def test_step_limit_and_hint_failures_are_the_stock_ones(tmp_path: Path) -> None:
    failures = []
    for short in (True, False):
        with pytest.raises(RunFailure) as limit:
            execute(request("fibonacci", tmp_path, False, max_steps=50), short_steps=short)
        bad = RunRequest(program=compiled("merkle_root"), program_input={"leaves": [1, 2, 3]},
                         layout=EXAMPLES["merkle_root"].layout)
        with pytest.raises(RunFailure) as hint:
            execute(bad, short_steps=short)
        failures.append((limit.value.reason, limit.value.message,
                         hint.value.reason, hint.value.message))
    assert failures[0] == failures[1]
    assert failures[0][0] is FailureReason.STEP_LIMIT
    assert failures[0][2] is FailureReason.HINT_ERROR


@pytest.mark.parametrize("segment, offset", [(1, 0), (3, 12345), (-2, 7), (1, -1), (1, 2**70)])
def test_addresses_equal_cairo_langs_and_are_shared(segment: int, offset: int) -> None:
    """An address from the short path is cairo-lang's value; within bounds one shared object."""
    made = step.address(segment, offset)
    assert made == RelocatableValue(segment, offset)
    assert hash(made) == hash(RelocatableValue(segment, offset))
    again = step.address(segment, offset)
    assert (again is made) == (0 <= offset < step.MAX_INTERNED_OFFSET)


def test_shared_addresses_stay_within_their_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(step, "MAX_INTERNED_SLOTS", 100)
    monkeypatch.setattr(step, "MAX_INTERNED_OFFSET", 50)
    monkeypatch.setattr(step, "_interned", {})
    monkeypatch.setattr(step, "_interned_slots", 0)
    for segment in range(20):
        for offset in range(60):
            assert step.address(segment, offset) == RelocatableValue(segment, offset)
            assert step._interned_slots <= 100 + 50
