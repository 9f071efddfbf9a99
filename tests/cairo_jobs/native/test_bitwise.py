"""The bitwise builtin (`cairo-bitwise/1`) on real proof-mode runs in cairo-run's dynamic layout
(`dynamic_layout`: 512 steps; its named layouts with bitwise pad runs to 2^14 steps or more)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from cairo_jobs.native import bitwise_builtin, cairo_trace, dynamic_layout, prover, verifier
from cairo_jobs.native.cairo_trace import ArtifactError
from cairo_jobs.native.field import P
from tests.cairo_jobs.native.test_cairo_air import (
    SMALL,
    Run,
    assert_malformed_segment_refused,
    assert_refused_for_other_segments,
    changed_column,
    with_segment,
)
from tests.cairo_jobs.native.test_poseidon import column, poseidon_run

X, Y, Z = 2**250 + 0xF0F0_1234_5678, 2**251 - 1 - 2**200, 0x1234 << 236
BITWISE_PROGRAM = f"""
%builtins output bitwise
from starkware.cairo.common.cairo_builtins import BitwiseBuiltin

func main{{output_ptr: felt*, bitwise_ptr: BitwiseBuiltin*}}() {{
    assert bitwise_ptr[0].x = {X};
    assert bitwise_ptr[0].y = {Y};
    assert bitwise_ptr[1].x = bitwise_ptr[0].x_xor_y;
    assert bitwise_ptr[1].y = bitwise_ptr[0].x_and_y;
    assert [output_ptr] = bitwise_ptr[1].x_or_y;
    assert bitwise_ptr[2].x = {Z};
    assert bitwise_ptr[2].y = {X};
    let output_ptr = output_ptr + 1;
    let bitwise_ptr = bitwise_ptr + 3 * BitwiseBuiltin.SIZE;
    return ();
}}
"""
OTHER_BITWISE_PROGRAM = BITWISE_PROGRAM.replace(str(Y), str(Y - 1))
EVERY_BUILTIN_PROGRAM = """
%builtins output range_check bitwise poseidon
from starkware.cairo.common.builtin_poseidon.poseidon import poseidon_hash
from starkware.cairo.common.cairo_builtins import BitwiseBuiltin, PoseidonBuiltin

func main{
    output_ptr: felt*, range_check_ptr, bitwise_ptr: BitwiseBuiltin*,
    poseidon_ptr: PoseidonBuiltin*
}() {
    assert [range_check_ptr] = 0x80008001800080007fff800080008002;
    let range_check_ptr = range_check_ptr + 1;
    let (h) = poseidon_hash(1, 2);
    assert bitwise_ptr.x = 12;
    assert bitwise_ptr.y = 10;
    assert [output_ptr] = h + bitwise_ptr.x_xor_y;
    let output_ptr = output_ptr + 1;
    let bitwise_ptr = bitwise_ptr + BitwiseBuiltin.SIZE;
    return ();
}
"""
BIG_INPUT_PROGRAM = """
%builtins output bitwise
from starkware.cairo.common.cairo_builtins import BitwiseBuiltin

func main{output_ptr: felt*, bitwise_ptr: BitwiseBuiltin*}() {
    assert bitwise_ptr.x = 2 ** 251 + 5;
    assert bitwise_ptr.y = 3;
    let bitwise_ptr = bitwise_ptr + BitwiseBuiltin.SIZE;
    return ();
}
"""
CELLS = bitwise_builtin.CELLS


@pytest.fixture(scope="module")
def bitwise(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return poseidon_run(BITWISE_PROGRAM, tmp_path_factory.mktemp("bitwise"))


def memory_cells(run: Run) -> dict[int, int]:
    """The bitwise component's memory slots that are used: address → value."""
    addresses, values = column(run, "bw_mem_addr"), column(run, "bw_mem_value")
    return {a: v for a, v in zip(addresses, values, strict=True) if a}


def test_a_bitwise_run_is_proved_under_its_own_air(bitwise: Run) -> None:
    air = bitwise.air
    segment = bitwise.document["memory_segments"]["bitwise"]
    start = segment["begin_addr"]
    assert (air.name, air.public.n_steps) == ("cairo-bitwise/1", 512)
    assert air.public.segments == {"bitwise": (start, segment["stop_ptr"])}
    assert segment["stop_ptr"] == start + 3 * CELLS
    assert verifier.verify(air, bitwise.proof) == SMALL.security_bits(9 + SMALL.log_blowup)
    inputs = ((X, Y), (X ^ Y, X & Y), (Z, X))
    cells = [cell for x, y in inputs for cell in (x, y, x & y, x ^ y, x | y)]
    assert memory_cells(bitwise) == dict(enumerate(cells, start=start))
    assert column(bitwise, "bw_used") == [1] * 48 + [0] * 464
    assert column(bitwise, "bw_acc_x")[:16] == [X >> (16 * (15 - r)) for r in range(16)]
    assert [column(bitwise, f"bw_y_{j}")[1] for j in range(16)] == [
        (Y >> (224 + j)) & 1 for j in range(16)
    ]


def test_a_run_with_every_proved_builtin_is_proved_under_all(tmp_path: Path) -> None:
    run = poseidon_run(EVERY_BUILTIN_PROGRAM, tmp_path)
    assert run.air.name == "cairo-rc-poseidon-bitwise/1"
    assert verifier.verify(run.air, run.proof) == SMALL.security_bits(
        run.air.log_trace_length + SMALL.log_blowup
    )
    for builtin in ("range_check", "poseidon", "bitwise"):
        with pytest.raises(verifier.VerificationError):
            verifier.verify(with_segment(run, builtin, None), run.proof)


@pytest.mark.parametrize(
    ("name", "row", "delta"),
    [
        ("bw_x", 3, 1), ("bw_y", 20, 1), ("bw_and", 15, 1), ("bw_cell_value", 3, 1),
        ("bw_mem_value", 4, 1), ("bw_x_0", 15, 1), ("bw_x_11", 0, 1), ("bw_and_chunk", 5, 1),
        ("bw_acc_y", 31, 2**16), ("bw_mem_addr", 1, 1), ("bw_base", 9, 1), ("bw_used", 50, 1),
        ("bw_load", 6, 1),
    ],
)  # fmt: skip
def test_a_changed_bitwise_cell_cannot_be_proved(
    bitwise: Run, name: str, row: int, delta: int
) -> None:
    with pytest.raises(prover.UnsatisfiedTrace):
        prover.prove(bitwise.air, changed_column(bitwise, name, row, delta), SMALL)


def lie(run: Run, cells: dict[tuple[str, int], int]) -> list[list[int]]:
    """The run's columns with some bitwise cells replaced and the sorted memory recomputed from
    the slots, so that only the bitwise constraints can see the change."""
    named = dict(zip(run.air.arguments.trace_columns, (list(c) for c in run.columns), strict=True))
    for (name, row), value in cells.items():
        named[name][row] = value % P
    memory = cairo_trace.read_memory(run.artifacts.memory)
    public = run.air.public
    named |= cairo_trace.memory_columns(named, public.public_memory, memory, public.shape)
    return [named[name] for name in run.air.arguments.trace_columns]


@pytest.mark.parametrize("change", ["unread or", "held and", "and accumulator", "skipped instance"])
def test_a_lying_prover_is_refused(
    bitwise: Run, change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Instance 0's x | y and instance 2's outputs are never read by the program."""
    if change == "unread or":
        cells = {("bw_cell_value", 4): (X | Y) + 1, ("bw_mem_value", 4): (X | Y) + 1}
    elif change == "skipped instance":  # instance 1 marked unused: its cells leave the memory
        names = ("bw_used", "bw_load", "bw_mem_addr", "bw_mem_value")
        cells = {(name, row): 0 for name in names for row in range(16, 32)}
    else:  # instance 2 (rows 32..47) holds x & y + 1, its three output cells following
        cells = {("bw_and", row): (Z & X) + 1 for row in range(32, 48)}
        for row, value in ((34, (Z & X) + 1), (35, (Z ^ X) - 2), (36, (Z | X) - 1)):
            cells |= {("bw_cell_value", row): value, ("bw_mem_value", row): value}
        if change == "and accumulator":  # and the accumulator ends at it
            cells[("bw_acc_and", 47)] = (Z & X) + 1
    monkeypatch.setattr(prover, "require_low_degree", lambda *args: None)  # a malicious prover
    with pytest.raises(verifier.VerificationError):
        verifier.verify(bitwise.air, prover.prove(bitwise.air, lie(bitwise, cells), SMALL))


def test_a_lying_prover_with_an_input_of_2_to_the_251_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cairo-run checks inputs only when the program reads an output; the prover refuses such a
    run, and one that fills the bits of 2^251 + 5 anyway (bit 11 of row 0) is refused."""
    with pytest.raises(ArtifactError, match="not below 2\\^251"):
        poseidon_run(BIG_INPUT_PROGRAM, tmp_path, prove=False)
    monkeypatch.setattr(bitwise_builtin, "TOTAL_BITS", 256)  # the lying prover's own check
    monkeypatch.setattr(prover, "require_low_degree", lambda *args: None)
    run = poseidon_run(BIG_INPUT_PROGRAM, tmp_path)
    assert column(run, "bw_x_11")[0] == 1 and column(run, "bw_mem_value")[0] == 2**251 + 5
    with pytest.raises(verifier.VerificationError):
        verifier.verify(run.air, run.proof)


def test_the_proof_is_refused_for_other_segments_and_programs(bitwise: Run, tmp_path: Path) -> None:
    other = poseidon_run(OTHER_BITWISE_PROGRAM, tmp_path, prove=False).air
    assert other.public.log_rows == bitwise.air.public.log_rows
    assert_refused_for_other_segments(bitwise, "bitwise", CELLS, other)


@pytest.mark.parametrize("cells", [4, 7, -5, 5 * 2**20 + 5])
def test_a_malformed_bitwise_segment_is_refused(bitwise: Run, cells: int) -> None:
    message = "is not 1 to 1048576 instances of 5 cells"
    assert_malformed_segment_refused(bitwise, "bitwise", cells, message)


def test_memory_that_disagrees_with_the_builtin_is_refused(bitwise: Run) -> None:
    start, stop = bitwise.air.public.segments["bitwise"]
    memory = cairo_trace.read_memory(bitwise.artifacts.memory)
    cases = {
        "input absent": {a: v for a, v in memory.items() if a != start + 6},
        f"{start + 2} is not its operation's result": memory | {start + 2: (X & Y) + 1},
        f"{start + 4} is not its operation's result": memory | {start + 4: X ^ Y},
        f"at {start + 1} holds .*, not below 2\\^251": memory | {start + 1: P - 1},
    }
    for message, wrong in cases.items():
        with pytest.raises(bitwise_builtin.BitwiseCellError, match=message):
            bitwise_builtin.builtin_columns((start, stop), 512, wrong)
    wrong_file = bitwise.artifacts.memory.with_name("wrong.bin")
    wrong_file.write_bytes(
        b"".join(a.to_bytes(8, "little") + v.to_bytes(32, "little") for a, v in wrong.items())
    )
    with pytest.raises(ArtifactError, match="not below 2\\^251"):
        cairo_trace.trace_columns(
            bitwise.artifacts.public_input, bitwise.artifacts.trace, wrong_file
        )


def test_more_instances_than_the_steps_hold_take_more_rows(bitwise: Run) -> None:
    start, _ = bitwise.air.public.segments["bitwise"]
    for instances, rows in ((32, 512), (33, 1024), (64, 1024), (65, 2048)):
        segments = {"bitwise": (start, start + CELLS * instances)}
        assert dataclasses.replace(bitwise.air.public, segments=segments).n_rows == rows


def test_the_dynamic_layout_holds_one_instance_per_16_steps() -> None:
    params = dynamic_layout.params(["output", "bitwise"])
    assert (params["bitwise_ratio"], params["uses_bitwise_builtin"]) == (bitwise_builtin.ROWS, 1)
