"""The Cairo AIR (CPU, memory and range-check arguments) on real proof-mode runs."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import random
from pathlib import Path

import pytest
from starkware.cairo.lang.compiler.encode import decode_instruction, encode_instruction

from cairo_jobs.examples import compiled
from cairo_jobs.model import ProofArtifacts
from cairo_jobs.native import cairo_trace, field, prover, verifier
from cairo_jobs.native.cairo_air import INDEX, CairoAir
from cairo_jobs.native.cairo_trace import ArtifactError, PublicInput, UnsupportedBuiltin
from cairo_jobs.native.field import P
from cairo_jobs.native.parameters import Parameters
from cairo_jobs.program import compile_source
from cairo_jobs.runner import RunRequest
from cairo_jobs.vm import execute

SMALL = Parameters(log_blowup=2, n_queries=6, pow_bits=4, log_last_layer_degree=1)
OTHER_PROGRAM = """
%builtins output
func main{output_ptr: felt*}() {
    assert [output_ptr] = 10;
    assert [output_ptr + 1] = 55;
    let output_ptr = output_ptr + 2;
    return ();
}
"""


@dataclasses.dataclass(frozen=True)
class Run:
    artifacts: ProofArtifacts
    document: dict
    columns: list[list[int]]
    air: CairoAir
    proof: bytes


def proof_mode_run(program: bytes, program_input: dict, work_dir: Path) -> Run:
    request = RunRequest(program, program_input, "small", proof_mode=True, work_dir=work_dir)
    artifacts = execute(request).artifacts
    assert artifacts is not None
    columns, public = cairo_trace.trace_columns(
        artifacts.public_input, artifacts.trace, artifacts.memory
    )
    air = CairoAir(public)
    document = json.loads(artifacts.public_input.read_text())
    return Run(artifacts, document, columns, air, prover.prove(air, columns, SMALL))


@pytest.fixture(scope="module")
def fibonacci(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return proof_mode_run(compiled("fibonacci"), {"n": 10}, tmp_path_factory.mktemp("fib"))


def rows(columns: list[list[int]]) -> list[list[int]]:
    return [list(row) for row in zip(*columns, strict=True)]


def statement(run: Run, change: dict) -> CairoAir:
    """The run's statement with some public input fields replaced."""
    return CairoAir(dataclasses.replace(run.air.public, **change))


def with_segment(run: Run, builtin: str, segment: tuple[int, int] | None) -> CairoAir:
    """The run's statement with a builtin's segment replaced (None: empty)."""
    if builtin == "range_check":
        return statement(run, {"range_check": segment})
    segments = {k: v for k, v in run.air.public.segments.items() if k != builtin}
    return statement(run, {"segments": segments | ({builtin: segment} if segment else {})})


def with_public_cell(run: Run, address: int, value: int) -> CairoAir:
    cells = tuple((a, value if a == address else v) for a, v in run.air.public.public_memory)
    return statement(run, {"public_memory": cells})


def test_decoding_matches_cairo_lang(fibonacci: Run) -> None:
    for row in rows(fibonacci.columns):
        inst = row[INDEX["inst"]]
        imm = None if not row[INDEX["op1_imm"]] else row[INDEX["op1"]]
        assert encode_instruction(decode_instruction(inst, imm), prime=P)[0] == inst
        offsets, flags = cairo_trace.decode(inst)
        expected = decode_instruction(inst, imm)
        assert [o - cairo_trace.OFFSET_BIAS for o in offsets] == [
            expected.off0,
            expected.off1,
            expected.off2,
        ]
        assert flags[cairo_trace.FLAGS.index("call")] == (expected.opcode.name == "CALL")


@pytest.mark.parametrize("name", ["fibonacci", "range_check"])
def test_every_row_satisfies_every_constraint(name: str, request: pytest.FixtureRequest) -> None:
    run: Run = request.getfixturevalue(name)
    air = run.air
    challenges = [random.Random(5).randrange(P) for _ in range(air.n_challenges)]
    interaction = [field.to_ints(c) for c in air.interaction(run.columns, challenges)]
    table = rows(run.columns + interaction)
    assert len(table) == air.public.n_steps
    for current, following in itertools.pairwise(table):
        assert all(v % P == 0 for v in air.transitions(current, following, challenges))
    for current in table:
        assert all(v % P == 0 for v in air.every_row(current, challenges))
    for row, value in air.row_constraints(table[0], challenges):
        assert row != 0 or value % P == 0
    for row, value in air.row_constraints(table[-1], challenges):
        assert row != len(table) - 1 or value % P == 0
    for boundary in air.boundaries():
        assert run.columns[boundary.column][boundary.row] == boundary.value


def test_an_honest_proof_verifies_with_its_security(fibonacci: Run) -> None:
    air = fibonacci.air
    bits = verifier.verify(air, fibonacci.proof)
    assert bits == SMALL.security_bits(air.log_trace_length + SMALL.log_blowup)


@pytest.mark.parametrize(
    ("name", "row"),
    [
        ("pc", 5), ("ap", 5), ("fp", 9), ("inst", 5), ("op1_imm", 5), ("dst", 5), ("op0", 7),
        ("res", 5), ("t1", 5), ("mul", -1), ("inst", -1), ("dst_addr", -1),
        ("mem_free_value", 0), ("mem_free_addr", -1), ("mem_value_2", 7), ("mem_addr_4", 100),
        ("rc_free", 3), ("rc_1", 9), ("off_op1", 4),
    ],
)  # fmt: skip
def test_a_changed_cell_cannot_be_proved(fibonacci: Run, name: str, row: int) -> None:
    changed = [list(column) for column in fibonacci.columns]
    changed[INDEX[name]][row] = (changed[INDEX[name]][row] + 1) % P
    with pytest.raises(prover.UnsatisfiedTrace):
        prover.prove(fibonacci.air, changed, SMALL)


def test_a_false_output_cannot_be_proved(fibonacci: Run) -> None:
    output = fibonacci.document["memory_segments"]["output"]["begin_addr"] + 1
    with pytest.raises(prover.UnsatisfiedTrace):
        prover.prove(with_public_cell(fibonacci, output, 56), fibonacci.columns, SMALL)


@pytest.mark.parametrize("cell", ["output", "program", "main argument"])
def test_a_lying_prover_with_a_false_public_cell_is_refused(
    fibonacci: Run, cell: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    segments = fibonacci.document["memory_segments"]
    address = {
        "output": segments["output"]["begin_addr"] + 1,
        "program": segments["program"]["begin_addr"] + 3,
        "main argument": segments["execution"]["begin_addr"],
    }[cell]
    false = with_public_cell(fibonacci, address, 1234)
    monkeypatch.setattr(prover, "require_low_degree", lambda *args: None)  # a malicious prover
    with pytest.raises(verifier.VerificationError):
        verifier.verify(false, prover.prove(false, fibonacci.columns, SMALL))


def test_a_lying_prover_with_a_changed_memory_value_is_refused(
    fibonacci: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    changed = [list(column) for column in fibonacci.columns]
    changed[INDEX["dst"]][20] = (changed[INDEX["dst"]][20] + 1) % P
    monkeypatch.setattr(prover, "require_low_degree", lambda *args: None)
    with pytest.raises(verifier.VerificationError):
        verifier.verify(fibonacci.air, prover.prove(fibonacci.air, changed, SMALL))


def test_the_proof_is_refused_for_any_other_statement(fibonacci: Run, tmp_path: Path) -> None:
    public, segments = fibonacci.air.public, fibonacci.document["memory_segments"]
    registers = dataclasses.replace(public.registers, final_ap=public.registers.final_ap + 1)
    others = [
        with_public_cell(fibonacci, segments["output"]["begin_addr"] + 1, 56),
        with_public_cell(fibonacci, segments["program"]["begin_addr"], 0),
        statement(fibonacci, {"registers": registers}),
        statement(fibonacci, {"rc_min": public.rc_min - 1}),
        statement(fibonacci, {"public_memory": public.public_memory[:-1]}),
        proof_mode_run(compile_source(OTHER_PROGRAM), {}, tmp_path).air,
    ]
    assert others[-1].public.log_rows == public.log_rows
    for other in others:
        with pytest.raises(verifier.VerificationError):
            verifier.verify(other, fibonacci.proof)


def test_any_flipped_byte_is_refused(fibonacci: Run) -> None:
    rng = random.Random(11)
    data = fibonacci.proof
    for position in rng.sample(range(len(data)), 24):
        flipped = bytearray(data)
        flipped[position] ^= 1 << rng.randrange(8)
        with pytest.raises(verifier.VerificationError):
            verifier.verify(fibonacci.air, bytes(flipped))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(n_steps=500), "power of two"),
        (lambda d: d.update(rc_min=2**16), "not an integer"),
        (lambda d: d.update(rc_min=d["rc_max"] + 1), "above rc_max"),
        (lambda d: d["public_memory"].append(d["public_memory"][0]), "distinct"),
        (lambda d: d["public_memory"][0].update(value="0xzz"), "malformed"),
        (lambda d: d["public_memory"][0].update(address=True), "not an integer"),
        (lambda d: d.pop("memory_segments"), "malformed"),
        (lambda d: d["memory_segments"]["program"].update(begin_addr=-1), "not an integer"),
    ],
)
def test_a_malformed_public_input_is_refused(fibonacci: Run, change, message: str) -> None:
    document = copy.deepcopy(fibonacci.document)
    change(document)
    with pytest.raises(ArtifactError, match=message):
        PublicInput.from_json(document)


def test_an_unsupported_builtin_is_named(fibonacci: Run) -> None:
    document = copy.deepcopy(fibonacci.document)
    document["memory_segments"]["pedersen"]["stop_ptr"] += 3
    with pytest.raises(UnsupportedBuiltin, match="pedersen builtin"):
        PublicInput.from_json(document)


def test_too_short_a_run_for_its_public_memory_is_refused(fibonacci: Run) -> None:
    cpu = {name: fibonacci.columns[INDEX[name]][:16] for name in cairo_trace.COLUMNS}
    memory = cairo_trace.read_memory(fibonacci.artifacts.memory)
    with pytest.raises(ArtifactError, match="do not fit in 16 steps"):
        cairo_trace.memory_columns(cpu, fibonacci.air.public.public_memory, memory)


def test_malformed_artifacts_are_refused(fibonacci: Run, tmp_path: Path) -> None:
    artifacts = fibonacci.artifacts
    trace, memory = tmp_path / "trace.bin", tmp_path / "memory.bin"
    trace.write_bytes(artifacts.trace.read_bytes()[:-1])
    with pytest.raises(ArtifactError, match="24-byte"):
        cairo_trace.read_trace(trace)
    trace.write_bytes(artifacts.trace.read_bytes()[:-24])
    with pytest.raises(ArtifactError, match="511 steps, the public input 512"):
        cairo_trace.trace_columns(artifacts.public_input, trace, artifacts.memory)
    memory.write_bytes(artifacts.memory.read_bytes()[:-3])
    with pytest.raises(ArtifactError, match="40-byte"):
        cairo_trace.read_memory(memory)
    memory.write_bytes((7).to_bytes(8, "little") + P.to_bytes(32, "little"))
    with pytest.raises(ArtifactError, match="Stark prime"):
        cairo_trace.read_memory(memory)
    with pytest.raises(ArtifactError, match="absent"):
        cairo_trace.step_row(1, 100, 100, {})
    with pytest.raises(ArtifactError, match="not an instruction"):
        cairo_trace.decode(2**63)


# The range_check builtin (`cairo-rc/1`). Each cell's 16-bit parts lie near the biased offsets
# (2^15), so the run needs few range-check holes and stays at 512 steps.
RANGE_CHECK_PROGRAM = """
%builtins output range_check
func main{output_ptr: felt*, range_check_ptr}() {
    assert [range_check_ptr] = 0x80008001800080007fff800080008002;
    assert [range_check_ptr + 1] = 0x7ffe8000800080008000800180008000;
    assert [range_check_ptr + 2] = 0x80008000800380008000800080007ffd;
    assert [output_ptr] = [range_check_ptr + 2] - [range_check_ptr + 1];
    let output_ptr = output_ptr + 1;
    let range_check_ptr = range_check_ptr + 3;
    return ();
}
"""
OTHER_RANGE_CHECK_PROGRAM = RANGE_CHECK_PROGRAM.replace("8003", "8004")
WITH_RANGE_CHECK_COLUMNS = cairo_trace.WITH_RANGE_CHECK.trace_columns


@pytest.fixture(scope="module")
def range_check(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return proof_mode_run(compile_source(RANGE_CHECK_PROGRAM), {}, tmp_path_factory.mktemp("rc"))


def changed_column(run: Run, name: str, row: int, delta: int) -> list[list[int]]:
    changed = [list(column) for column in run.columns]
    column = changed[run.air.index[name]]
    column[row] = (column[row] + delta) % P
    return changed


def test_a_range_check_run_is_proved_under_its_own_air(range_check: Run, fibonacci: Run) -> None:
    air = range_check.air
    assert (air.name, fibonacci.air.name) == ("cairo-rc/1", "cairo/1")
    segment = range_check.document["memory_segments"]["range_check"]
    assert air.public.range_check == (segment["begin_addr"], segment["stop_ptr"])
    assert air.public.n_steps == 512 and air.n_columns == len(WITH_RANGE_CHECK_COLUMNS)
    assert verifier.verify(air, range_check.proof) == verifier.verify(
        fibonacci.air, fibonacci.proof
    )
    columns = dict(zip(WITH_RANGE_CHECK_COLUMNS, range_check.columns, strict=True))
    assert columns["rcb_used"][:4] == [1, 1, 1, 0]
    assert columns["rcb_mem_value"][0] == 0x80008001800080007FFF800080008002
    assert [columns[f"rcb_part_{k}"][0] for k in range(8)] == [
        0x8002, 0x8000, 0x8000, 0x7FFF, 0x8000, 0x8000, 0x8001, 0x8000
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "row", "delta"),
    [
        ("rcb_addr", 0, 1), ("rcb_addr", 300, 1), ("rcb_used", 2, -1), ("rcb_used", 3, 1),
        ("rcb_used", -1, 1), ("rcb_part_7", 10, 1), ("rcb_mem_value", 2, 1),
        ("rcb_mem_addr", 7, 1), ("rc_11", 100, 1),
    ],
)  # fmt: skip
def test_a_changed_range_check_cell_cannot_be_proved(
    range_check: Run, name: str, row: int, delta: int
) -> None:
    with pytest.raises(prover.UnsatisfiedTrace):
        prover.prove(range_check.air, changed_column(range_check, name, row, delta), SMALL)


@pytest.mark.parametrize(
    "change",
    [
        [("rcb_part_7", 0, 2**16), ("rcb_mem_value", 0, 2**128)],  # a cell of 2^128 and more
        [("rcb_mem_value", 1, 1), ("rcb_part_0", 1, 1)],  # another value than the program wrote
        [("rcb_used", 2, -1), ("rcb_mem_addr", 2, -1), ("rcb_mem_value", 2, -1)],  # skipped
    ],
)
def test_a_lying_prover_with_a_changed_range_check_cell_is_refused(
    range_check: Run, change: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    changed = range_check.columns
    for name, row, delta in change:
        changed = changed_column(
            dataclasses.replace(range_check, columns=changed), name, row, delta
        )
    monkeypatch.setattr(prover, "require_low_degree", lambda *args: None)
    with pytest.raises(verifier.VerificationError):
        verifier.verify(range_check.air, prover.prove(range_check.air, changed, SMALL))


def test_the_range_check_proof_is_refused_for_other_segments_and_programs(
    range_check: Run, tmp_path: Path
) -> None:
    other = proof_mode_run(compile_source(OTHER_RANGE_CHECK_PROGRAM), {}, tmp_path).air
    assert other.public.log_rows == range_check.air.public.log_rows
    assert_refused_for_other_segments(range_check, "range_check", 1, other)


def assert_refused_for_other_segments(run: Run, builtin: str, step: int, other: CairoAir) -> None:
    """The run's proof is refused when the builtin's segment starts or stops `step` cells
    earlier or later, is empty, and for the other program's statement."""
    public = run.air.public
    start, stop = public.range_check if builtin == "range_check" else public.segments[builtin]
    moved = ((start + step, stop), (start, stop - step), (start, stop + step), (start - step, stop))
    statements = [with_segment(run, builtin, segment) for segment in moved]
    for wrong in (*statements, with_segment(run, builtin, None), other):
        with pytest.raises(verifier.VerificationError):
            verifier.verify(wrong, run.proof)


def assert_malformed_segment_refused(run: Run, builtin: str, cells: int, message: str) -> None:
    """A public input whose builtin segment holds `cells` cells is refused with `message`; with
    the segment empty, the builtin is left out."""
    document = copy.deepcopy(run.document)
    segment = document["memory_segments"][builtin]
    segment["stop_ptr"] = segment["begin_addr"] + cells
    with pytest.raises(ArtifactError, match=message):
        PublicInput.from_json(document)
    segment["stop_ptr"] = segment["begin_addr"]
    assert builtin not in PublicInput.from_json(document).segments


@pytest.mark.parametrize(
    ("segment", "message"),
    [
        ((100, 99), "not 1 to 512 instances of 1 cells"),
        ((100, 613), "not 1 to 512 instances of 1 cells"),
        ((-1, 3), "integer"),
    ],
)
def test_a_malformed_range_check_segment_is_refused(
    range_check: Run, segment: tuple[int, int], message: str
) -> None:
    document = copy.deepcopy(range_check.document)
    document["memory_segments"]["range_check"].update(begin_addr=segment[0], stop_ptr=segment[1])
    with pytest.raises(ArtifactError, match=message):
        PublicInput.from_json(document)
    document["memory_segments"]["range_check"].update(begin_addr=100, stop_ptr=100)
    assert PublicInput.from_json(document).range_check is None


def test_range_check_cells_and_holes_that_do_not_fit_are_refused(range_check: Run) -> None:
    start, stop = range_check.air.public.range_check
    with pytest.raises(ArtifactError, match="not below 2\\^128"):
        cairo_trace.range_check_builtin_columns((start, start + 1), 512, {start: 2**128})
    with pytest.raises(ArtifactError, match="absent from memory"):
        cairo_trace.range_check_builtin_columns((start, stop), 512, {start: 5})
    cpu = dict(zip(WITH_RANGE_CHECK_COLUMNS, range_check.columns, strict=True))
    with pytest.raises(ArtifactError, match="range-check holes do not fit in 512 steps"):
        cairo_trace.range_check_columns(cpu, 0, 2**16 - 1, cairo_trace.WITH_RANGE_CHECK)
