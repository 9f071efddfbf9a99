"""The poseidon builtin (`cairo-poseidon/1`) on real proof-mode runs.

The runs use cairo-run's dynamic layout with only their builtins (`dynamic_layout`), so they
stay at 512 steps; cairo-run's named layouts with poseidon pad every run to 2^15 steps or more.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from starkware.cairo.common.poseidon_hash import poseidon_perm

from cairo_jobs.native import cairo_trace, dynamic_layout, poseidon_builtin, prover, verifier
from cairo_jobs.native.cairo_air import CairoAir
from cairo_jobs.native.cairo_trace import ArtifactError
from cairo_jobs.native.field import P
from cairo_jobs.program import compile_source
from tests.cairo_jobs.conftest import cli
from tests.cairo_jobs.native.test_cairo_air import (
    SMALL,
    Run,
    assert_malformed_segment_refused,
    assert_refused_for_other_segments,
    changed_column,
    with_segment,
)

POSEIDON_PROGRAM = """
%builtins output poseidon
from starkware.cairo.common.builtin_poseidon.poseidon import poseidon_hash
from starkware.cairo.common.cairo_builtins import PoseidonBuiltin

func main{output_ptr: felt*, poseidon_ptr: PoseidonBuiltin*}() {
    let (h) = poseidon_hash(1, 2);
    let (h) = poseidon_hash(h, 3);
    assert [output_ptr] = h;
    let output_ptr = output_ptr + 1;
    return ();
}
"""
OTHER_POSEIDON_PROGRAM = POSEIDON_PROGRAM.replace("poseidon_hash(h, 3)", "poseidon_hash(h, 4)")
RANGE_CHECK_AND_POSEIDON_PROGRAM = """
%builtins output range_check poseidon
from starkware.cairo.common.builtin_poseidon.poseidon import poseidon_hash
from starkware.cairo.common.cairo_builtins import PoseidonBuiltin

func main{output_ptr: felt*, range_check_ptr, poseidon_ptr: PoseidonBuiltin*}() {
    assert [range_check_ptr] = 0x80008001800080007fff800080008002;
    let range_check_ptr = range_check_ptr + 1;
    let (h) = poseidon_hash(1, 2);
    assert [output_ptr] = h;
    let output_ptr = output_ptr + 1;
    return ();
}
"""

SIX_HASHES_PROGRAM = """
%builtins output poseidon
from starkware.cairo.common.builtin_poseidon.poseidon import poseidon_hash
from starkware.cairo.common.cairo_builtins import PoseidonBuiltin

func chain{poseidon_ptr: PoseidonBuiltin*}(h: felt, i: felt) -> felt {
    if (i == 6) {
        return h;
    }
    let (next) = poseidon_hash(h, i);
    return chain(next, i + 1);
}

func main{output_ptr: felt*, poseidon_ptr: PoseidonBuiltin*}() {
    let h = chain(7, 0);
    assert [output_ptr] = h;
    let output_ptr = output_ptr + 1;
    return ();
}
"""


def poseidon_run(source: str, work_dir: Path, prove: bool = True, **ratios: int) -> Run:
    """A proof-mode run in cairo-run's dynamic layout (`dynamic_layout`, some ratios changed),
    proved if asked."""
    program, layout = work_dir / "program.json", work_dir / "layout.json"
    program.write_bytes(compile_source(source))
    builtins = json.loads(program.read_text())["builtins"]
    layout.write_text(json.dumps(dynamic_layout.params(builtins) | ratios))
    artifacts = dynamic_layout.artifacts_in(work_dir)
    cli("cairo-run", *dynamic_layout.cairo_run_args(program, layout, artifacts))
    columns, public = cairo_trace.trace_columns(
        artifacts.public_input, artifacts.trace, artifacts.memory
    )
    air = CairoAir(public)
    document = json.loads(artifacts.public_input.read_text())
    proof = prover.prove(air, columns, SMALL) if prove else b""
    return Run(artifacts, document, columns, air, proof)


@pytest.fixture(scope="module")
def poseidon(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return poseidon_run(POSEIDON_PROGRAM, tmp_path_factory.mktemp("poseidon"))


def column(run: Run, name: str) -> list[int]:
    return run.columns[run.air.index[name]]


def test_the_permutation_is_cairo_langs() -> None:
    rng = random.Random(8)
    for inputs in ([0, 0, 0], [P - 1, 1, 2], [rng.randrange(P) for _ in range(3)]):
        assert poseidon_builtin.permutation(inputs) == poseidon_perm(*inputs)


def test_a_poseidon_run_is_proved_under_its_own_air(poseidon: Run) -> None:
    air = poseidon.air
    segment = poseidon.document["memory_segments"]["poseidon"]
    assert air.name == "cairo-poseidon/1" and air.public.n_steps == 512
    assert air.public.segments == {"poseidon": (segment["begin_addr"], segment["stop_ptr"])}
    assert verifier.verify(air, poseidon.proof) == SMALL.security_bits(9 + SMALL.log_blowup)
    start = segment["begin_addr"]
    first = poseidon_perm(1, 2, 2)
    assert column(poseidon, "pos_used") == [1] * 256 + [0] * 256
    cells = {
        a: v
        for a, v in zip(
            column(poseidon, "pos_mem_addr"), column(poseidon, "pos_mem_value"), strict=True
        )
        if a
    }
    assert cells == {
        **dict(enumerate([1, 2, 2, *first], start=start)),
        **dict(enumerate([first[0], 3, 2, *poseidon_perm(first[0], 3, 2)], start=start + 6)),
    }


def test_a_run_with_range_check_and_poseidon_is_proved_under_both(
    poseidon: Run, tmp_path: Path
) -> None:
    run = poseidon_run(RANGE_CHECK_AND_POSEIDON_PROGRAM, tmp_path)
    assert run.air.name == "cairo-rc-poseidon/1" and run.air.public.n_steps == 512
    assert verifier.verify(run.air, run.proof) == verifier.verify(poseidon.air, poseidon.proof)
    for wrong in (with_segment(run, "range_check", None), with_segment(run, "poseidon", None)):
        with pytest.raises(verifier.VerificationError):
            verifier.verify(wrong, run.proof)


def test_more_hashes_than_the_steps_hold_are_proved_on_more_rows(tmp_path: Path) -> None:
    """A layout with a hash per 16 steps (recursive_with_poseidon has one per 64): the 6 hashes
    need 768 rows of the 512 steps, so the trace repeats the last step, jmp rel 0, to 1024."""
    run = poseidon_run(SIX_HASHES_PROGRAM, tmp_path, poseidon_ratio=16)
    public = run.air.public
    assert (public.n_steps, public.n_rows, run.air.log_trace_length) == (512, 1024, 10)
    assert verifier.verify(run.air, run.proof) == SMALL.security_bits(10 + SMALL.log_blowup)
    pc, inst = column(run, "pc"), column(run, "inst")
    assert pc[511:] == [pc[511]] * 513 and inst[511] == cairo_trace.JMP_REL_0
    steps = run.artifacts.trace.read_bytes()
    run.artifacts.trace.write_bytes(steps[:-24] + steps[:24])  # the last step moved to the first
    with pytest.raises(ArtifactError, match="last step is not jmp rel 0"):
        cairo_trace.trace_columns(
            run.artifacts.public_input, run.artifacts.trace, run.artifacts.memory
        )


@pytest.mark.parametrize(
    ("name", "row"),
    [
        ("pos_s_0", 0), ("pos_s_1", 50), ("pos_s_2", 94), ("pos_s_0", 300), ("pos_cu_2", 40),
        ("pos_mem_value", 95), ("pos_mem_addr", 129), ("pos_used", 256),
        ("pos_base", 7), ("pos_load", 3),
    ],
)  # fmt: skip
def test_a_changed_poseidon_cell_cannot_be_proved(poseidon: Run, name: str, row: int) -> None:
    with pytest.raises(prover.UnsatisfiedTrace):
        prover.prove(poseidon.air, changed_column(poseidon, name, row, 1), SMALL)


def lie(run: Run, cells: dict[tuple[str, int], int]) -> list[list[int]]:
    """The run's columns with some poseidon cells replaced: squares, cubes and memory slots
    follow the state, and the sorted memory follows the slots, so that only the poseidon
    constraints can see the change."""
    columns = (list(c) for c in run.columns)
    named = dict(zip(run.air.arguments.trace_columns, columns, strict=True))
    for (name, row), value in cells.items():
        named[name][row] = value % P
    periodic = dict(
        zip(poseidon_builtin.PERIODIC_NAMES, poseidon_builtin.periodic_columns(), strict=True)
    )
    for row in {row for _, row in cells}:
        for j in range(3):
            added = (named[f"pos_s_{j}"][row] + periodic[f"pos_c_{j}"][row % 128]) % P
            named[f"pos_sq_{j}"][row] = added * added % P
            named[f"pos_cu_{j}"][row] = added * added * added % P
        named["pos_mem_value"][row] = named["pos_load"][row] * named["pos_s_0"][row]
    memory = cairo_trace.read_memory(run.artifacts.memory)
    public = run.air.public
    named |= cairo_trace.memory_columns(named, public.public_memory, memory, public.shape)
    return [named[name] for name in run.air.arguments.trace_columns]


@pytest.mark.parametrize("change", ["output", "round state", "skipped instance"])
def test_a_lying_prover_is_refused(
    poseidon: Run, change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if change == "output":  # y1 + 1, an output the program never reads, where rotations put it
        y1 = column(poseidon, "pos_s_1")[94] + 1
        cells = {("pos_s_1", 94): y1, ("pos_s_0", 95): y1, ("pos_s_2", 96): y1}
    elif change == "round state":
        cells = {(f"pos_s_{j}", 60): column(poseidon, f"pos_s_{j}")[60] + 1 for j in range(3)}
    else:  # the second instance marked unused: its cells leave the memory argument
        names = ("pos_used", "pos_load", "pos_mem_addr", "pos_mem_value")
        cells = {(name, row): 0 for name in names for row in range(128, 256)}
    monkeypatch.setattr(prover, "require_low_degree", lambda *args: None)  # a malicious prover
    with pytest.raises(verifier.VerificationError):
        verifier.verify(poseidon.air, prover.prove(poseidon.air, lie(poseidon, cells), SMALL))


def test_the_proof_is_refused_for_other_segments_and_programs(
    poseidon: Run, tmp_path: Path
) -> None:
    other = poseidon_run(OTHER_POSEIDON_PROGRAM, tmp_path, prove=False).air
    assert other.public.log_rows == poseidon.air.public.log_rows
    assert_refused_for_other_segments(poseidon, "poseidon", poseidon_builtin.CELLS, other)


@pytest.mark.parametrize("cells", [5, 13, -6, 6 * 2**17 + 6])
def test_a_malformed_poseidon_segment_is_refused(poseidon: Run, cells: int) -> None:
    message = "is not 1 to 131072 instances of 6 cells"
    assert_malformed_segment_refused(poseidon, "poseidon", cells, message)


def test_memory_that_disagrees_with_the_builtin_is_refused(poseidon: Run) -> None:
    start, stop = poseidon.air.public.segments["poseidon"]
    memory = cairo_trace.read_memory(poseidon.artifacts.memory)
    absent = {a: v for a, v in memory.items() if a != start + 7}
    with pytest.raises(poseidon_builtin.PoseidonCellError, match="input absent"):
        poseidon_builtin.builtin_columns((start, stop), 512, absent)
    wrong = memory | {start + 3: memory[start + 3] + 1}
    with pytest.raises(poseidon_builtin.PoseidonCellError, match=f"{start + 3} is not Hades"):
        poseidon_builtin.builtin_columns((start, stop), 512, wrong)
    poseidon.artifacts.memory.with_name("wrong.bin").write_bytes(
        b"".join(a.to_bytes(8, "little") + v.to_bytes(32, "little") for a, v in wrong.items())
    )
    with pytest.raises(ArtifactError, match="not Hades"):
        cairo_trace.trace_columns(
            poseidon.artifacts.public_input,
            poseidon.artifacts.trace,
            poseidon.artifacts.memory.with_name("wrong.bin"),
        )


def test_the_dynamic_layout_has_ratios_only_for_the_proved_builtins() -> None:
    assert dynamic_layout.params(["output", "poseidon"])["poseidon_ratio"] == 128
    with pytest.raises(ValueError, match="not \\['ecdsa'\\]"):
        dynamic_layout.params(["output", "ecdsa"])
