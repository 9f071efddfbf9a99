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
Constraints see a row as a mapping from column (and periodic column) names to values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
