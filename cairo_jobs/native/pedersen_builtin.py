"""The pedersen builtin's component of the Cairo AIR: 512 rows per instance, one input bit a row.

An instance is 3 memory cells: x, y at base, base + 1 and H(x, y) at base + 2, with (cairo-lang's
`fast_pedersen_hash`) H = [S + x_low·P0 + x_high·P1 + y_low·P2 + y_high·P3].x on the Stark curve
y² = x³ + x + β, S the shift point, low the 248 low bits and high the 4 bits above. Rows 0..255
of an instance take x (element e = 0), rows 256..511 y (e = 1); on row i of an element (i < 252)
the partial sum (px, py) adds Q_i = 2^i·P_2e (i < 248) or 2^(i − 248)·P_(2e+1) when bit i is
set, so the sum after the element's bits is the element's part of H; rows 252..255 are idle.
- `ped_suffix` is the element's bits from i on (v on its first row, suffixᵢ = 2·suffixᵢ₊₁ + bitᵢ,
  0 on idle rows), `ped_bit` the bit; the sum starts at S on row 0 and carries from row 255 to
  256; on row 511 the suffix is H instead (the memory slot reads the suffix on rows 0, 256, 511).
- `ped_slope` is the addition's slope (0 where the bit is 0): slope·(px − Qx) = bit·(py − Qy),
  px' = px + slope² − bit·(2·px + Qx), py' = py + slope·(px − px') − 2·bit·py; from row 511 the
  next instance starts at S again. x = Qx would make an addition exceptional: reaching it means
  knowing a discrete-log relation between S and the constant points.
- The decomposition is unique (v < p = 2^251 + 17·2^192 + 1, not v + p): `ped_k` holds bit 251
  (h) on rows 196..255, c = h·bit196 on rows 192..195 and d = c·bit192 on rows 0..191, and
  `ped_kb` = k·bit is 0 on rows 197..250, 193..195 and 0..191: if h then bits 197..250 are 0, if
  also bit 196 then bits 193..195, if also bit 192 then bits 0..191, so v ≤ p − 1.
- `ped_base` (the instance's first cell), `ped_used`, `ped_load` and the memory slot
  (`ped_mem_addr`, `ped_mem_value`) as for poseidon: (base + 0, 1, 2, suffix) on rows 0, 256,
  511 of a used instance, else (0, 0).
Every constraint has degree 2 (a periodic column counts one). The per-row schedule (points,
selectors) is public: periodic columns of period 512 (`PERIODIC_NAMES`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from cairo_jobs.native.component import (
    BuiltinCellError,
    BuiltinComponent,
    Segment,
    ends_at_stop,
    fill_row_by_row,
    instance_steps,
    memory_slot,
    starts_used,
)
from cairo_jobs.native.field import P


class PedersenCellError(BuiltinCellError):
    """The run's memory disagrees with the builtin (an input absent, an output not the hash)."""


ROWS = 512  # rows per instance
ELEMENT_ROWS = 256
CELLS = 3
BITS = 252
LOW_BITS = 248
ALPHA = 1
BETA = 0x6F21413EFBE40DE150E596D72F7A8C5609AD26C15C915C1F4CDFCB99CEE9E89
CELL_ROWS = (0, ELEMENT_ROWS, ROWS - 1)  # x, y, H(x, y)
K_TOP, K_C, K_D = 251, 196, 192  # bit 251, then bits 196 and 192 (see the module docstring)

COLUMNS = (
    "ped_suffix", "ped_bit", "ped_k", "ped_kb", "ped_x", "ped_y", "ped_slope",
    "ped_base", "ped_used", "ped_load", "ped_mem_addr", "ped_mem_value",
)  # fmt: skip
INSTANCE_COLUMNS = COLUMNS[:7]  # what `instance_rows` gives
MEMORY_SLOT = ("ped_mem_addr", "ped_mem_value")
PERIODIC_NAMES = (
    "ped_qx", "ped_qy", "ped_last", "ped_idle", "ped_unpack", "ped_cell", "ped_cell_index",
    "ped_k_carry", "ped_k_take", "ped_k_top", "ped_k_zero",
)  # fmt: skip

Point = tuple[int, int]
# cairo-lang's CONSTANT_POINTS 0 (S) and 2, 250, 254, 502 (P0..P3), from the digits of pi
SHIFT_POINT: Point = (
    0x49EE3EBA8C1600700EE1B87EB599F16716B0B1022947733551FDE4050CA6804,
    0x3CA0CFE4B3BC6DDF346D49D06EA0ED34E621062C0E056C1D0405D266E10268A,
)
BASE_POINTS: tuple[Point, ...] = (
    (
        0x234287DCBAFFE7F969C748655FCA9E58FA8120B6D56EB0C1080D17957EBE47B,
        0x3B056F100F96FB21E889527D41F4E39940135DD7A6C94CC6ED0268EE89E5615,
    ),
    (
        0x4FA56F376C83DB33F9DAB2656558F3399099EC1DE5E3018B7A6932DBA8AA378,
        0x3FA0984C931C9E38113E0C0E47E4401562761F92A7A23B45168F4E80FF5B54D,
    ),
    (
        0x4BA4CC166BE8DEC764910F75B45F74B40C690C74709E90F3AA372F0BD2D6997,
        0x40301CF5C1751F4B971E46C4EDE85FCAC5C59A5CE5AE7C48151F27B24B219C,
    ),
    (
        0x54302DCB0E6CC1C6E44CCA8F61A63BB2CA65048D53FB325D36FF12C49A58202,
        0x1B77B3E37D13504B348046268D8AE25CE98AD783C25561A879DCC77E99C2426,
    ),
)


def add(a: Point, b: Point) -> Point:
    """a + b on the curve, for a ≠ ±b."""
    slope = (b[1] - a[1]) * pow(b[0] - a[0], -1, P) % P
    x = (slope * slope - a[0] - b[0]) % P
    return x, (slope * (a[0] - x) - a[1]) % P


def double(a: Point) -> Point:
    """2·a on the curve."""
    slope = (3 * a[0] * a[0] + ALPHA) * pow(2 * a[1], -1, P) % P
    x = (slope * slope - 2 * a[0]) % P
    return x, (slope * (a[0] - x) - a[1]) % P


@functools.cache
def row_points() -> tuple[Point | None, ...]:
    """The point added on each row of an instance where the row's bit is set (None: idle)."""
    points: list[Point | None] = []
    for element in range(2):
        low, high = BASE_POINTS[2 * element], BASE_POINTS[2 * element + 1]
        for start, count in ((low, LOW_BITS), (high, BITS - LOW_BITS)):
            point = start
            for _ in range(count):
                points.append(point)
                point = double(point)
        points += [None] * (ELEMENT_ROWS - BITS)
    return tuple(points)


def _selector(rows: set[int]) -> list[int]:
    return [int(row % ELEMENT_ROWS in rows) for row in range(ROWS)]


@functools.cache
def periodic_columns() -> tuple[tuple[int, ...], ...]:
    """One period of each schedule column, in PERIODIC_NAMES order."""
    points = row_points()
    last = [int(row == ROWS - 1) for row in range(ROWS)]
    idle = _selector(set(range(BITS, ELEMENT_ROWS)))
    idle[ROWS - 1] = 0  # the suffix holds the hash there
    unpack = _selector(set(range(ELEMENT_ROWS - 1)))
    unpack[ROWS - 2] = 0  # row 510 → 511: the suffix is 0, then the hash
    cell, cell_index = [0] * ROWS, [0] * ROWS
    for k, row in enumerate(CELL_ROWS):
        cell[row], cell_index[row] = 1, k
    k_take = {K_C - 1, K_D - 1}  # k on this row is the next row's k·bit
    k_carry = set(range(ELEMENT_ROWS - 1)) - k_take
    k_zero = {*range(K_C + 1, K_TOP), *range(K_D + 1, K_C), *range(K_D)}
    columns = {
        "ped_qx": [0 if q is None else q[0] for q in points],
        "ped_qy": [0 if q is None else q[1] for q in points],
        "ped_last": last,
        "ped_idle": idle,
        "ped_unpack": unpack,
        "ped_cell": cell,
        "ped_cell_index": cell_index,
        "ped_k_carry": _selector(k_carry),
        "ped_k_take": _selector(k_take),
        "ped_k_top": _selector({K_TOP}),
        "ped_k_zero": _selector(k_zero),
    }
    return tuple(tuple(columns[name]) for name in PERIODIC_NAMES)


def every_row(c: Mapping) -> list:
    """Bits, the slope, the decomposition's uniqueness, the hash in the suffix on row 511, the
    memory slot and the used bit."""
    bit, suffix, k = c["ped_bit"], c["ped_suffix"], c["ped_k"]
    return [
        bit * bit - bit,
        c["ped_slope"] * (c["ped_x"] - c["ped_qx"]) - bit * (c["ped_y"] - c["ped_qy"]),
        c["ped_idle"] * suffix,
        (c["ped_idle"] + c["ped_last"]) * bit,
        c["ped_last"] * (suffix - c["ped_x"]),
        c["ped_kb"] - k * bit,
        c["ped_k_top"] * (k - bit),
        c["ped_k_zero"] * c["ped_kb"],
        *memory_slot(c, "ped", suffix),
    ]


def transitions(c: Mapping, nxt: Mapping, segment: Segment) -> list:
    """The bits unpack; the partial sum adds Q where the bit is set and restarts at S after row
    511; k is carried; base steps by 3 per instance; used is constant in an instance, never
    rises, and where it falls the next base is stop."""
    bit, slope, x, y, last = (c[name] for name in ("ped_bit", "ped_slope", "ped_x", "ped_y",
                                                   "ped_last"))  # fmt: skip
    kept = 1 - last  # the sum carries on to the next row, except into the next instance
    return [
        c["ped_unpack"] * (c["ped_suffix"] - 2 * nxt["ped_suffix"] - bit),
        nxt["ped_x"] - kept * x - last * SHIFT_POINT[0] - slope * slope
        + bit * (2 * x + c["ped_qx"]),
        nxt["ped_y"] - kept * y - last * SHIFT_POINT[1] - slope * (x - nxt["ped_x"])
        + 2 * bit * y,
        c["ped_k_carry"] * (nxt["ped_k"] - c["ped_k"])
        + c["ped_k_take"] * (c["ped_k"] - nxt["ped_kb"]),
        *instance_steps(c, nxt, "ped", CELLS, segment),
    ]  # fmt: skip


def first_row(segment: Segment) -> dict[str, int]:
    """The first instance is used, starts the segment and its sum starts at S."""
    return {**starts_used("ped", segment), "ped_x": SHIFT_POINT[0], "ped_y": SHIFT_POINT[1]}


def last_row(c: Mapping, segment: Segment) -> list:
    """If the last instance is used, the segment ends right after it."""
    return ends_at_stop(c, "ped", CELLS, segment)


def instance_rows(x: int, y: int) -> list[list[int]]:
    """The 512 rows of one instance (INSTANCE_COLUMNS) for inputs x, y as integers below 2^252
    (the builtin's are below p)."""
    points = row_points()
    rows, point = [], SHIFT_POINT
    for element, value in enumerate((x, y)):
        ks = _k_values(value)
        for i in range(ELEMENT_ROWS):
            row = element * ELEMENT_ROWS + i
            suffix, bit = value >> i, (value >> i) & 1
            slope = 0
            if bit:
                q = points[row]
                slope = (q[1] - point[1]) * pow(q[0] - point[0], -1, P) % P
            rows.append([suffix, bit, ks[i], ks[i] * bit, *point, slope])
            if bit:
                point = add(point, q)
    rows[-1][0] = point[0]
    return rows


def _k_values(value: int) -> list[int]:
    """k on each row of an element: bit 251 from row 196, then ·bit 196, then ·bit 192."""
    top = (value >> K_TOP) & 1
    c = top * ((value >> K_C) & 1)
    d = c * ((value >> K_D) & 1)
    return [d] * K_D + [c] * (K_C - K_D) + [top] * (ELEMENT_ROWS - K_C)


def pedersen_hash(x: int, y: int) -> int:
    """H(x, y), the builtin's output."""
    return instance_rows(x, y)[-1][0]


def builtin_columns(segment: Segment, n: int, memory: Mapping[int, int]) -> dict:
    """The component's trace columns (COLUMNS) for the segment [start, stop) in n rows: the used
    instances from the memory (hashes the run never read are computed), then instances of
    (0, 0) with used = 0."""
    periodic = dict(zip(PERIODIC_NAMES, periodic_columns(), strict=True))
    return fill_row_by_row(segment, n, "ped", INSTANCE_COLUMNS,
                           lambda base: _used_rows(base, memory), instance_rows(0, 0),
                           periodic, CELLS)  # fmt: skip


def _used_rows(base: int, memory: Mapping[int, int]) -> list[list[int]]:
    x, y = memory.get(base), memory.get(base + 1)
    if x is None or y is None:
        raise PedersenCellError(f"the pedersen instance at {base} has an input absent from memory")
    rows = instance_rows(x, y)
    if memory.get(base + 2, rows[-1][0]) != rows[-1][0]:
        raise PedersenCellError(f"the pedersen cell {base + 2} is not the hash of its inputs")
    return rows


COMPONENT = BuiltinComponent(
    name="pedersen",
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
