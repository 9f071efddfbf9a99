"""What a builtin's component adds to the Cairo AIR (poseidon, pedersen, …; `registry`).

A builtin's segment [start, stop) holds instances of `cells` memory cells; instance k occupies
the rows rows·k .. rows·k + rows − 1 of the trace, so n/rows instances fit in n rows (the trace
grows when a run's instances need more rows than it has steps). The component brings trace
`columns` (after the other columns, in registry order), `memory_slots` (each a pair of its
columns, one more memory access per row each, after the other slots), `periodic` columns (the
public per-row schedule, one period each, after the other periodic columns) and constraints on
its columns, appended to each group of the AIR's constraints in registry order: `every_row`,
`transitions` (row to next row), `first_row` (boundary values at row 0) and `last_row` (values
that must vanish on the last row). `fill` computes its columns from the run's memory.
Constraints see a row as a mapping from column (and periodic column) names to values. The
instance bookkeeping every component has (base and used per instance, one memory slot) is
written once here (`memory_slot`, `instance_steps`, `starts_used`, `ends_at_stop`), on columns
named with the component's prefix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Segment = tuple[int, int]


class BuiltinCellError(ValueError):
    """The run's memory disagrees with a builtin (an input absent, an output not the builtin's)."""


@dataclass(frozen=True)
class BuiltinComponent:
    """One builtin's part of the Cairo AIR (see the module docstring)."""

    name: str  # the segment's name in cairo-run's public input and the tag in the AIR's name
    cells: int  # memory cells per instance
    rows: int  # trace rows per instance (a power of two)
    max_instances: int  # the most instances a public input may declare
    columns: tuple[str, ...]
    memory_slots: tuple[tuple[str, str], ...]
    periodic_names: tuple[str, ...]
    periodic: Callable[[], tuple[tuple[int, ...], ...]]
    every_row: Callable[[Mapping[str, Any]], list]
    transitions: Callable[[Mapping[str, Any], Mapping[str, Any], Segment], list]
    first_row: Callable[[Segment], dict[str, int]]
    last_row: Callable[[Mapping[str, Any], Segment], list]
    fill: Callable[[Segment, int, Mapping[int, int]], dict[str, list[int]]]

    def instances(self, segment: Segment) -> int:
        """How many instances the segment holds."""
        return (segment[1] - segment[0]) // self.cells


def memory_slot(c: Mapping[str, Any], prefix: str, value: Any) -> list:
    """The constraints of a component's memory slot and used bit, on its columns `<prefix>_load`,
    `_used`, `_base`, `_mem_addr`, `_mem_value` and periodic `_cell`, `_cell_index`: load =
    used·cell; the slot is (base + cell_index, value) where load is 1, else (0, 0); used is a
    bit."""
    load, used = c[f"{prefix}_load"], c[f"{prefix}_used"]
    return [
        load - used * c[f"{prefix}_cell"],
        c[f"{prefix}_mem_addr"] - load * c[f"{prefix}_base"] - load * c[f"{prefix}_cell_index"],
        c[f"{prefix}_mem_value"] - load * value,
        used * used - used,
    ]


def instance_steps(
    c: Mapping[str, Any], nxt: Mapping[str, Any], prefix: str, cells: int, segment: Segment
) -> list:
    """base steps by `cells` after an instance's last row (periodic `<prefix>_last`); used is
    constant in an instance, never rises, and where it falls the next base is stop."""
    last, used, next_used = c[f"{prefix}_last"], c[f"{prefix}_used"], nxt[f"{prefix}_used"]
    base, next_base = c[f"{prefix}_base"], nxt[f"{prefix}_base"]
    return [
        next_base - base - cells * last,
        (1 - last) * (next_used - used),
        next_used * (1 - used),
        (used - next_used) * (next_base - segment[1]),
    ]


def starts_used(prefix: str, segment: Segment) -> dict[str, int]:
    """The boundary values of row 0: the first instance is used and starts the segment."""
    return {f"{prefix}_base": segment[0], f"{prefix}_used": 1}


def ends_at_stop(c: Mapping[str, Any], prefix: str, cells: int, segment: Segment) -> list:
    """The last row's constraint: if the last instance is used, the segment ends right after it."""
    return [c[f"{prefix}_used"] * (c[f"{prefix}_base"] + cells - segment[1])]


def fill_row_by_row(
    segment: Segment,
    n: int,
    prefix: str,
    value_columns: tuple[str, ...],
    used_rows: Callable[[int], list[list[int]]],
    unused_rows: list[list[int]],
    periodic: Mapping[str, Sequence[int]],
    cells: int,
) -> dict[str, list[int]]:
    """The columns of a component whose instances come row by row: for each instance of the n
    rows, `used_rows(base)` while base < stop (else `unused_rows`) gives each row's
    `value_columns`; the memory slot holds the row's first value where `<prefix>_cell` is 1
    (`memory_slot`), with `_base`, `_used` and `_load` beside it."""
    start, stop = segment
    columns: dict[str, list[int]] = {name: [] for name in value_columns}
    for name in ("base", "used", "load", "mem_addr", "mem_value"):
        columns[f"{prefix}_{name}"] = []
    cell, cell_index = periodic[f"{prefix}_cell"], periodic[f"{prefix}_cell_index"]
    instance_rows = len(unused_rows)
    for instance in range(n // instance_rows):
        base = start + cells * instance
        used = base < stop
        rows = used_rows(base) if used else unused_rows
        for row, values in enumerate(rows):
            for name, value in zip(value_columns, values, strict=True):
                columns[name].append(value)
            load = used * cell[row]
            columns[f"{prefix}_base"].append(base)
            columns[f"{prefix}_used"].append(int(used))
            columns[f"{prefix}_load"].append(load)
            columns[f"{prefix}_mem_addr"].append(load * (base + cell_index[row]))
            columns[f"{prefix}_mem_value"].append(load * values[0])
    return columns
