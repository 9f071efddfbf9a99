"""The poseidon builtin's component of the Cairo AIR: 128 rows per instance, Hades one round a row.

An instance is 6 memory cells: inputs x0, x1, x2 at base .. base + 2, outputs y = Hades(x) at
base + 3 .. base + 5 (Hades over the Stark field: width 3, S-box x³, 4 full rounds, 83 partial
rounds with the S-box on the last element only, 4 full rounds; a round adds its constants,
applies the S-box, then multiplies by the MDS matrix). Instance k occupies rows 128k .. 128k + 127
(row r of the instance below); its state (s0, s1, s2) is three columns:
- rows 0 → 1 → 2 → 3 rotate the state (s' = (s1, s2, s0)), so s0 is x0, x1, x2 on rows 0, 1, 2
  and the state is x again on row 3;
- rows 3 .. 93 are the 91 rounds (round j from row 3 + j to 4 + j); row 94 holds y;
- rows 94 → 95 → 96 rotate again, so s0 is y0, y1, y2 on rows 94, 95, 96;
- rows 96 .. 127 are free (no transition).
sq_j = (s_j + c_j)² and cu_j = sq_j·(s_j + c_j) (c the round's constants, 0 off the rounds) keep
every constraint of degree 2. Each row has one memory slot: on rows 0, 1, 2, 94, 95, 96 of a
used instance it is (base + 0 .. 5, s0), else (0, 0). `used` is 1 on the instances of the segment
[start, stop) and 0 after; base steps by 6 from instance to instance, from start.

The per-row schedule is public: periodic columns of period 128 (`PERIODIC`), named below.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping

from cairo_jobs.native import component
from cairo_jobs.native.component import BuiltinCellError, BuiltinComponent, Segment
from cairo_jobs.native.field import P


class PoseidonCellError(BuiltinCellError):
    """The run's memory disagrees with the builtin (an input absent, an output not Hades')."""


ROWS = 128  # rows per instance
CELLS = 6  # memory cells per instance
FULL_ROUNDS, PARTIAL_ROUNDS = 8, 83
ROUNDS = FULL_ROUNDS + PARTIAL_ROUNDS
FIRST_ROUND = 3  # rows 0..2 rotate the inputs into place
OUTPUT_ROW = FIRST_ROUND + ROUNDS  # 94
CELL_ROWS = (0, 1, 2, OUTPUT_ROW, OUTPUT_ROW + 1, OUTPUT_ROW + 2)  # cell k is s0 on this row
ROTATION_ROWS = (0, 1, 2, OUTPUT_ROW, OUTPUT_ROW + 1)
MDS = ((3, 1, 1), (1, -1, 1), (1, 1, -2))

STATE = ("pos_s_0", "pos_s_1", "pos_s_2")
SQUARES = ("pos_sq_0", "pos_sq_1", "pos_sq_2")
CUBES = ("pos_cu_0", "pos_cu_1", "pos_cu_2")
MEMORY_SLOT = ("pos_mem_addr", "pos_mem_value")
COLUMNS = (*STATE, *SQUARES, *CUBES, "pos_base", "pos_used", "pos_load", *MEMORY_SLOT)
PERIODIC_NAMES = (
    "pos_active", "pos_rotate", "pos_full", "pos_partial", "pos_c_0", "pos_c_1", "pos_c_2",
    "pos_cell", "pos_cell_index", "pos_last",
)  # fmt: skip


@functools.cache
def round_constants() -> tuple[tuple[int, int, int], ...]:
    """Hades' constants: element j of round i is sha256("Hades" + str(3i + j)) mod p."""
    return tuple(
        tuple(
            int.from_bytes(hashlib.sha256(f"Hades{3 * i + j}".encode()).digest(), "big") % P
            for j in range(3)
        )
        for i in range(ROUNDS)
    )


def is_full(round_index: int) -> bool:
    """Whether round `round_index` (0..90) applies the S-box to every element."""
    return round_index < FULL_ROUNDS // 2 or round_index >= FULL_ROUNDS // 2 + PARTIAL_ROUNDS


def hades_round(state: list[int], round_index: int) -> list[int]:
    """One round: add the constants, S-box (all elements or the last), MDS."""
    added = [(s + c) % P for s, c in zip(state, round_constants()[round_index], strict=True)]
    boxed = [pow(v, 3, P) if is_full(round_index) or j == 2 else v for j, v in enumerate(added)]
    return [sum(m * v for m, v in zip(row, boxed, strict=True)) % P for row in MDS]


@functools.cache
def periodic_columns() -> tuple[tuple[int, ...], ...]:
    """One period of each schedule column, in PERIODIC_NAMES order."""
    columns: dict[str, list[int]] = {name: [0] * ROWS for name in PERIODIC_NAMES}
    for row in range(OUTPUT_ROW + 2):
        columns["pos_active"][row] = 1
    for row in ROTATION_ROWS:
        columns["pos_rotate"][row] = 1
    for round_index, constants in enumerate(round_constants()):
        row = FIRST_ROUND + round_index
        columns["pos_full" if is_full(round_index) else "pos_partial"][row] = 1
        for j in range(3):
            columns[f"pos_c_{j}"][row] = constants[j]
    for k, row in enumerate(CELL_ROWS):
        columns["pos_cell"][row] = 1
        columns["pos_cell_index"][row] = k
    columns["pos_last"][ROWS - 1] = 1
    return tuple(tuple(columns[name]) for name in PERIODIC_NAMES)


def every_row(c: Mapping) -> list:
    """Squares and cubes of the state plus the constants; the memory slot and the used bit."""
    constraints = []
    for j in range(3):
        added = c[STATE[j]] + c[f"pos_c_{j}"]
        constraints += [c[SQUARES[j]] - added * added, c[CUBES[j]] - c[SQUARES[j]] * added]
    return [*constraints, *component.memory_slot(c, "pos", c[STATE[0]])]


def transitions(c: Mapping, nxt: Mapping, segment: Segment) -> list:
    """The rotations and rounds; base steps by 6 per instance; used is constant in an instance,
    never rises, and where it falls the next base is stop."""
    full, partial = c["pos_full"], c["pos_partial"]
    boxed = [
        full * c[CUBES[j]] + partial * c[STATE[j]] + partial * c[f"pos_c_{j}"] for j in range(2)
    ]
    boxed.append((full + partial) * c[CUBES[2]])
    steps = [
        c["pos_active"] * nxt[STATE[i]]
        - sum(boxed[j] * MDS[i][j] for j in range(3))
        - c["pos_rotate"] * c[STATE[(i + 1) % 3]]
        for i in range(3)
    ]
    return [*steps, *component.instance_steps(c, nxt, "pos", CELLS, segment)]


def first_row(segment: Segment) -> dict[str, int]:
    """The first instance is used and starts the segment."""
    return component.starts_used("pos", segment)


def last_row(c: Mapping, segment: Segment) -> list:
    """If the last instance is used, the segment ends right after it."""
    return component.ends_at_stop(c, "pos", CELLS, segment)


def instance_rows(inputs: list[int]) -> list[list[int]]:
    """The 128 rows of one instance (state, squares, cubes) from its inputs."""
    periodic = dict(zip(PERIODIC_NAMES, periodic_columns(), strict=True))
    states = [list(inputs)]
    for row in range(ROWS - 1):
        state = states[-1]
        if row in ROTATION_ROWS:
            states.append([state[1], state[2], state[0]])
        elif FIRST_ROUND <= row < OUTPUT_ROW:
            states.append(hades_round(state, row - FIRST_ROUND))
        else:
            states.append(state)
    rows = []
    for row, state in enumerate(states):
        added = [(s + periodic[f"pos_c_{j}"][row]) % P for j, s in enumerate(state)]
        squares = [v * v % P for v in added]
        rows.append([*state, *squares, *(q * v % P for q, v in zip(squares, added, strict=True))])
    return rows


def permutation(inputs: list[int]) -> list[int]:
    """Hades(inputs), the builtin's three outputs."""
    return instance_rows(inputs)[OUTPUT_ROW][:3]


def builtin_columns(segment: Segment, n: int, memory: Mapping[int, int]) -> dict:
    """The component's trace columns (COLUMNS) for the segment [start, stop) in n rows: the used
    instances from the memory (outputs the run never read are computed), then instances of
    (0, 0, 0) with used = 0."""
    periodic = dict(zip(PERIODIC_NAMES, periodic_columns(), strict=True))
    return component.fill_row_by_row(segment, n, "pos", (*STATE, *SQUARES, *CUBES),
                                     lambda base: _used_rows(base, memory),
                                     instance_rows([0, 0, 0]), periodic, CELLS)  # fmt: skip


def _used_rows(base: int, memory: Mapping[int, int]) -> list[list[int]]:
    inputs = [memory.get(base + k) for k in range(3)]
    if None in inputs:
        raise PoseidonCellError(f"the poseidon instance at {base} has an input absent from memory")
    rows = instance_rows(inputs)
    for k, value in enumerate(rows[OUTPUT_ROW][:3]):
        if memory.get(base + 3 + k, value) != value:
            raise PoseidonCellError(f"the poseidon cell {base + 3 + k} is not Hades of its inputs")
    return rows


COMPONENT = BuiltinComponent(
    name="poseidon",
    cells=CELLS,
    rows=ROWS,
    max_instances=2**24 // ROWS,  # 2^24 rows
    columns=COLUMNS,
    memory_slots=(MEMORY_SLOT,),
    periodic_names=PERIODIC_NAMES,
    periodic=periodic_columns,
    every_row=every_row,
    transitions=transitions,
    first_row=first_row,
    last_row=last_row,
    fill=builtin_columns,
)
