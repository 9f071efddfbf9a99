"""The pedersen builtin (`cairo-pedersen/1`) on real proof-mode runs in cairo-run's dynamic layout
(one hash per 512 steps, the AIR's capacity), so the runs stay at 1024 steps."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from starkware.crypto.signature.fast_pedersen_hash import pedersen_hash
from starkware.crypto.signature.signature import CONSTANT_POINTS, SHIFT_POINT

from cairo_jobs.native import cairo_trace, dynamic_layout, pedersen_builtin, prover, verifier
from cairo_jobs.native.cairo_trace import ArtifactError
from cairo_jobs.native.field import P
from cairo_jobs.native.pedersen_builtin import ROWS, PedersenCellError
from tests.cairo_jobs.native.test_cairo_air import (
    SMALL,
    Run,
    assert_malformed_segment_refused,
    assert_refused_for_other_segments,
    changed_column,
    with_segment,
)
from tests.cairo_jobs.native.test_poseidon import poseidon_run as dynamic_run

# The first hash takes p − 1 and p − 2 (bit 251 set: the decomposition's bounds are tight);
# the second's output is never read, so it is absent from memory.bin.
PEDERSEN_PROGRAM = """
%builtins output pedersen
from starkware.cairo.common.cairo_builtins import HashBuiltin
from starkware.cairo.common.hash import hash2

func main{output_ptr: felt*, pedersen_ptr: HashBuiltin*}() {
    let (h) = hash2{hash_ptr=pedersen_ptr}(-1, -2);
    assert pedersen_ptr.x = h;
    assert pedersen_ptr.y = 3;
    let pedersen_ptr = pedersen_ptr + HashBuiltin.SIZE;
    assert [output_ptr] = h;
    let output_ptr = output_ptr + 1;
    return ();
}
"""
OTHER_PEDERSEN_PROGRAM = PEDERSEN_PROGRAM.replace("(-1, -2)", "(-1, -3)")
ALL_BUILTINS_PROGRAM = """
%builtins output pedersen range_check poseidon
from starkware.cairo.common.builtin_poseidon.poseidon import poseidon_hash
from starkware.cairo.common.cairo_builtins import HashBuiltin, PoseidonBuiltin
from starkware.cairo.common.hash import hash2

func main{
    output_ptr: felt*, pedersen_ptr: HashBuiltin*, range_check_ptr, poseidon_ptr: PoseidonBuiltin*
}() {
    assert [range_check_ptr] = 0x80008001800080007fff800080008002;
    let range_check_ptr = range_check_ptr + 1;
    let (h) = hash2{hash_ptr=pedersen_ptr}(1, 2);
    let (g) = poseidon_hash(h, 3);
    assert [output_ptr] = g;
    let output_ptr = output_ptr + 1;
    return ();
}
"""


@pytest.fixture(scope="module")
def pedersen(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return dynamic_run(PEDERSEN_PROGRAM, tmp_path_factory.mktemp("pedersen"))


def column(run: Run, name: str) -> list[int]:
    return run.columns[run.air.index[name]]


def test_the_points_and_the_hash_are_cairo_langs() -> None:
    assert tuple(SHIFT_POINT) == pedersen_builtin.SHIFT_POINT
    points = pedersen_builtin.row_points()
    for element in range(2):
        rows = points[element * 256 : element * 256 + 256]
        expected = CONSTANT_POINTS[2 + 252 * element : 2 + 252 * (element + 1)]
        assert list(rows[:252]) == [tuple(q) for q in expected] and rows[252:] == (None,) * 4
    beta = pedersen_builtin.BETA
    assert all((y * y - x**3 - x - beta) % P == 0 for x, y in points[:252])
    rng = random.Random(8)
    inputs = [(0, 0), (P - 1, P - 2), (2**251 + 2**196 + 5, 2**248 - 1)]
    for x, y in [*inputs, (rng.randrange(P), rng.randrange(P))]:
        assert pedersen_builtin.pedersen_hash(x, y) == pedersen_hash(x, y)


def test_a_pedersen_run_is_proved_under_its_own_air(pedersen: Run) -> None:
    air = pedersen.air
    segment = pedersen.document["memory_segments"]["pedersen"]
    start = segment["begin_addr"]
    assert air.name == "cairo-pedersen/1" and air.public.n_rows == 1024
    assert air.public.segments == {"pedersen": (start, segment["stop_ptr"])}
    assert verifier.verify(air, pedersen.proof) == SMALL.security_bits(10 + SMALL.log_blowup)
    first = pedersen_hash(P - 1, P - 2)
    cells = {
        a: v
        for a, v in zip(
            column(pedersen, "ped_mem_addr"), column(pedersen, "ped_mem_value"), strict=True
        )
        if a
    }
    assert cells == dict(enumerate([P - 1, P - 2, first, first, 3, pedersen_hash(first, 3)], start))
    assert start + 5 not in cairo_trace.read_memory(pedersen.artifacts.memory)


def test_a_run_with_every_proved_builtin_is_proved_under_all(tmp_path: Path) -> None:
    run = dynamic_run(ALL_BUILTINS_PROGRAM, tmp_path)
    assert run.air.name == "cairo-rc-pedersen-poseidon/1" and run.air.public.n_rows == 512
    assert verifier.verify(run.air, run.proof) == SMALL.security_bits(9 + SMALL.log_blowup)
    for builtin in ("range_check", "pedersen", "poseidon"):
        with pytest.raises(verifier.VerificationError):
            verifier.verify(with_segment(run, builtin, None), run.proof)


@pytest.mark.parametrize(
    ("name", "row"),
    [
        ("ped_suffix", 5), ("ped_bit", 3), ("ped_k", 100), ("ped_kb", 196), ("ped_x", 300),
        ("ped_slope", 700), ("ped_used", 1023), ("ped_mem_value", 511),
    ],
)  # fmt: skip
def test_a_changed_pedersen_cell_cannot_be_proved(pedersen: Run, name: str, row: int) -> None:
    with pytest.raises(prover.UnsatisfiedTrace):
        prover.prove(pedersen.air, changed_column(pedersen, name, row, 1), SMALL)


def lie(run: Run, x: int, y: int, hash_value: int | None = None) -> list[list[int]]:
    """The run's columns with the second (unread) instance computed from inputs x, y as
    integers (maybe ≥ p) and its hash replaced if asked; the memory slot and the sorted memory
    follow, so that only the pedersen constraints can see the change."""
    named = dict(zip(run.air.arguments.trace_columns, (list(c) for c in run.columns), strict=True))
    rows = pedersen_builtin.instance_rows(x, y)
    if hash_value is not None:
        rows[-1][0] = rows[-1][4] = hash_value
    for offset, values in enumerate(rows):
        row = ROWS + offset
        for name, value in zip(pedersen_builtin.INSTANCE_COLUMNS, values, strict=True):
            named[name][row] = value % P
        named["ped_mem_value"][row] = named["ped_load"][row] * named["ped_suffix"][row]
    memory = cairo_trace.read_memory(run.artifacts.memory)
    public = run.air.public
    named |= cairo_trace.memory_columns(named, public.public_memory, memory, public.shape)
    return [named[name] for name in run.air.arguments.trace_columns]


@pytest.mark.parametrize("change", ["hash", "input above p"])
def test_a_lying_prover_is_refused(
    pedersen: Run, change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = pedersen_hash(P - 1, P - 2)
    if change == "hash":  # the last sum, the suffix and the memory slot agree on H + 1
        columns = lie(pedersen, x, 3, pedersen_hash(x, 3) + 1)
    else:  # 3 + p, 3 in the field: the bits of another sum, which is then the unread hash
        columns = lie(pedersen, x, 3 + P)
        assert columns[pedersen.air.index["ped_mem_value"]][ROWS + 256] == 3
    monkeypatch.setattr(prover, "require_low_degree", lambda *args: None)  # a malicious prover
    with pytest.raises(verifier.VerificationError):
        verifier.verify(pedersen.air, prover.prove(pedersen.air, columns, SMALL))


def test_the_proof_is_refused_for_other_segments_and_programs(
    pedersen: Run, tmp_path: Path
) -> None:
    other = dynamic_run(OTHER_PEDERSEN_PROGRAM, tmp_path, prove=False).air
    assert other.public.log_rows == pedersen.air.public.log_rows
    assert_refused_for_other_segments(pedersen, "pedersen", pedersen_builtin.CELLS, other)


@pytest.mark.parametrize("cells", [2, 4, -3, 3 * 2**15 + 3])
def test_a_malformed_pedersen_segment_is_refused(pedersen: Run, cells: int) -> None:
    message = "is not 1 to 32768 instances of 3 cells"
    assert_malformed_segment_refused(pedersen, "pedersen", cells, message)


def test_memory_that_disagrees_with_the_builtin_is_refused(pedersen: Run) -> None:
    start, stop = pedersen.air.public.segments["pedersen"]
    memory = cairo_trace.read_memory(pedersen.artifacts.memory)
    absent = {a: v for a, v in memory.items() if a != start + 4}
    with pytest.raises(PedersenCellError, match="input absent"):
        pedersen_builtin.builtin_columns((start, stop), 1024, absent)
    wrong = memory | {start + 2: memory[start + 2] + 1}
    wrong_file = pedersen.artifacts.memory.with_name("wrong.bin")
    wrong_file.write_bytes(
        b"".join(a.to_bytes(8, "little") + v.to_bytes(32, "little") for a, v in wrong.items())
    )
    with pytest.raises(ArtifactError, match=f"{start + 2} is not the hash of its inputs"):
        cairo_trace.trace_columns(
            pedersen.artifacts.public_input, pedersen.artifacts.trace, wrong_file
        )


def test_the_dynamic_layout_gives_pedersen_the_airs_ratio() -> None:
    layout = dynamic_layout.params(["output", "pedersen"])
    assert layout["pedersen_ratio"] == ROWS and layout["uses_pedersen_builtin"] == 1
