"""The bitwise builtin's component of the Cairo AIR: 16 rows per instance, 16 bits of x and y a row.

An instance is 5 memory cells: inputs x, y at base, base + 1 (both below 2^251) and outputs x & y,
x ^ y, x | y at base + 2 .. base + 4. Instance k occupies rows 16k .. 16k + 15 (row r of the
instance below); row r holds bits 16·(15 − r) .. 16·(15 − r) + 15 of x and y (most significant
row first), one column per bit (`bw_x_j`, `bw_y_j`: bit j of the row's 16-bit chunk). The five
bits above 250 (row 0's bits 11..15) are zero, so x, y < 2^251.
- Accumulators, reset per instance: acc' = 2^16·acc·(1 − last) + chunk' and acc = chunk on the
  instance's first row, for the chunks of x, of y and of x & y (`bw_and_chunk` = Σ 2^j·x_j·y_j,
  a column so that no product has three factors); on the instance's last row they are x, y
  and x & y.
- `bw_x`, `bw_y`, `bw_and` hold those values on every row of the instance (equal to the
  accumulators on the last row, constant within the instance).
- Rows 0..4 carry the cells: `bw_cell_value` = cx·x + cy·y + cand·(x & y) with public
  coefficients per row: x, y, x & y, then x ^ y = x + y − 2·(x & y) and x | y = x + y − (x & y)
  (integer identities; every value is below 2^252 < p, so they hold in the field too).
Each row has one memory slot: (base + r, cell value) on rows 0..4 of a used instance, else
(0, 0). `used` is 1 on the instances of the segment [start, stop) and 0 after; base steps by 5
from instance to instance, from start. Every constraint is of degree 2 (a periodic column counts
one).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from cairo_jobs.native import component
from cairo_jobs.native.component import BuiltinCellError, BuiltinComponent, Segment

BITS_PER_ROW = 16
ROWS = 16  # rows per instance: 256 bits of x and y
CELLS = 5  # memory cells per instance
TOTAL_BITS = 251  # inputs are below 2^251
HIGH_BITS = range(TOTAL_BITS - BITS_PER_ROW * (ROWS - 1), BITS_PER_ROW)  # row 0's bits 11..15
CELL_COEFFICIENTS = ((1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, -2), (1, 1, -1))  # of (x, y, x & y)

X_BITS = tuple(f"bw_x_{j}" for j in range(BITS_PER_ROW))
Y_BITS = tuple(f"bw_y_{j}" for j in range(BITS_PER_ROW))
ACCUMULATORS = ("bw_acc_x", "bw_acc_y", "bw_acc_and")
VALUES = ("bw_x", "bw_y", "bw_and")
MEMORY_SLOT = ("bw_mem_addr", "bw_mem_value")
COLUMNS = (
    *X_BITS, *Y_BITS, "bw_and_chunk", *ACCUMULATORS, *VALUES, "bw_cell_value", "bw_base",
    "bw_used", "bw_load", *MEMORY_SLOT,
)  # fmt: skip
PERIODIC_NAMES = (
    "bw_first", "bw_last", "bw_cell", "bw_cell_index", "bw_cx", "bw_cy", "bw_cand",
)  # fmt: skip


class BitwiseCellError(BuiltinCellError):
    """The run's memory disagrees with the builtin (an input absent or too large, an output
    that is not the operation's result)."""


@functools.cache
def periodic_columns() -> tuple[tuple[int, ...], ...]:
    """One period of each schedule column, in PERIODIC_NAMES order."""
    columns: dict[str, list[int]] = {name: [0] * ROWS for name in PERIODIC_NAMES}
    columns["bw_first"][0] = 1
    columns["bw_last"][ROWS - 1] = 1
    for row, coefficients in enumerate(CELL_COEFFICIENTS):
        columns["bw_cell"][row] = 1
        columns["bw_cell_index"][row] = row
        for name, coefficient in zip(("bw_cx", "bw_cy", "bw_cand"), coefficients, strict=True):
            columns[name][row] = coefficient
    return tuple(tuple(columns[name]) for name in PERIODIC_NAMES)


def _sum_of_bits(c: Mapping, names: tuple[str, ...]) -> object:
    """Σ 2^j·bit_j over the row's bit columns `names`."""
    total = c[names[0]]
    for j in range(1, BITS_PER_ROW):
        total = total + (1 << j) * c[names[j]]
    return total


def _chunks(c: Mapping) -> tuple:
    """The row's 16-bit chunks of x, y and x & y."""
    return _sum_of_bits(c, X_BITS), _sum_of_bits(c, Y_BITS), c["bw_and_chunk"]


def every_row(c: Mapping) -> list:
    """Bits are bits, the high ones zero; the and chunk; the accumulators start an instance at
    its first row's chunks; the values are the accumulators on the last row; the cell value,
    the memory slot and the used bit."""
    first, last = c["bw_first"], c["bw_last"]
    bits = [c[b] * c[b] - c[b] for b in (*X_BITS, *Y_BITS)]
    high = [first * c[names[j]] for names in (X_BITS, Y_BITS) for j in HIGH_BITS]
    and_chunk = c[X_BITS[0]] * c[Y_BITS[0]]
    for j in range(1, BITS_PER_ROW):
        and_chunk = and_chunk + (1 << j) * (c[X_BITS[j]] * c[Y_BITS[j]])
    started = [first * (c[a] - chunk) for a, chunk in zip(ACCUMULATORS, _chunks(c), strict=True)]
    held = [last * (c[v] - c[a]) for v, a in zip(VALUES, ACCUMULATORS, strict=True)]
    cell = c["bw_cx"] * c["bw_x"] + c["bw_cy"] * c["bw_y"] + c["bw_cand"] * c["bw_and"]
    return [
        *bits,
        *high,
        c["bw_and_chunk"] - and_chunk,
        *started,
        *held,
        c["bw_cell_value"] - cell,
        *component.memory_slot(c, "bw", c["bw_cell_value"]),
    ]


def transitions(c: Mapping, nxt: Mapping, segment: Segment) -> list:
    """The accumulators take the next row's chunks (restarting after an instance's last row);
    the values are constant in an instance; base steps by 5 per instance; used is constant in
    an instance, never rises, and where it falls the next base is stop."""
    keep = 1 - c["bw_last"]
    accumulate = [
        nxt[a] - (1 << BITS_PER_ROW) * (keep * c[a]) - chunk
        for a, chunk in zip(ACCUMULATORS, _chunks(nxt), strict=True)
    ]
    return [
        *accumulate,
        *(keep * (nxt[v] - c[v]) for v in VALUES),
        *component.instance_steps(c, nxt, "bw", CELLS, segment),
    ]


def first_row(segment: Segment) -> dict[str, int]:
    """The first instance is used and starts the segment."""
    return component.starts_used("bw", segment)


def last_row(c: Mapping, segment: Segment) -> list:
    """If the last instance is used, the segment ends right after it."""
    return component.ends_at_stop(c, "bw", CELLS, segment)


def results(x: int, y: int) -> tuple[int, int, int]:
    """The builtin's outputs: x & y, x ^ y, x | y."""
    return x & y, x ^ y, x | y


def builtin_columns(segment: Segment, n: int, memory: Mapping[int, int]) -> dict:
    """The component's trace columns (COLUMNS) for the segment [start, stop) in n rows: the used
    instances from the memory (outputs the run never read are computed), then instances of
    (0, 0) with used = 0."""
    start, stop = segment
    columns: dict[str, list[int]] = {name: [] for name in COLUMNS}
    for instance in range(n // ROWS):
        base = start + CELLS * instance
        used = int(base < stop)
        values = _inputs(base, memory) if used else (0, 0)
        for name, column in _instance_columns(*values, base, used).items():
            columns[name] += column
    return columns


def _instance_columns(x: int, y: int, base: int, used: int) -> dict[str, list[int]]:
    """One instance's 16 rows, column by column."""
    both = x & y
    shifts = [BITS_PER_ROW * (ROWS - 1 - row) for row in range(ROWS)]
    columns: dict[str, list[int]] = {}
    for names, value in ((X_BITS, x), (Y_BITS, y)):
        for j, name in enumerate(names):
            columns[name] = [(value >> (shift + j)) & 1 for shift in shifts]
    columns["bw_and_chunk"] = [(both >> shift) & 0xFFFF for shift in shifts]
    for name, value in zip(ACCUMULATORS, (x, y, both), strict=True):
        columns[name] = [value >> shift for shift in shifts]  # the chunks so far
    for name, value in zip(VALUES, (x, y, both), strict=True):
        columns[name] = [value] * ROWS
    cells = [cx * x + cy * y + cand * both for cx, cy, cand in CELL_COEFFICIENTS]
    cells += [0] * (ROWS - CELLS)
    load = [used] * CELLS + [0] * (ROWS - CELLS)
    return columns | {
        "bw_cell_value": cells,
        "bw_base": [base] * ROWS,
        "bw_used": [used] * ROWS,
        "bw_load": load,
        "bw_mem_addr": [flag * (base + row) for row, flag in enumerate(load)],
        "bw_mem_value": [flag * cell for flag, cell in zip(load, cells, strict=True)],
    }


def _inputs(base: int, memory: Mapping[int, int]) -> tuple[int, int]:
    """The instance's x and y from memory; its outputs there (if the run read them) must be
    x & y, x ^ y, x | y."""
    inputs = [memory.get(base), memory.get(base + 1)]
    if None in inputs:
        raise BitwiseCellError(
            f"the bitwise instance at {base} has an input absent from memory; give the "
            "memory.bin cairo-run wrote for this run"
        )
    x, y = inputs
    for address, value in ((base, x), (base + 1, y)):
        if value >= 1 << TOTAL_BITS:
            raise BitwiseCellError(
                f"the bitwise input at {address} holds {value:#x}, not below 2^{TOTAL_BITS} "
                "(cairo-run checks inputs only when an output is read); keep the program's "
                f"bitwise inputs below 2^{TOTAL_BITS}"
            )
    for k, value in enumerate(results(x, y)):
        if memory.get(base + 2 + k, value) != value:
            raise BitwiseCellError(
                f"the bitwise cell {base + 2 + k} is not its operation's result; give the "
                "memory.bin cairo-run wrote for this run"
            )
    return x, y


COMPONENT = BuiltinComponent(
    name="bitwise",
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
