"""The Cairo AIR of the Cairo paper (Goldberg, Papini, Riabzev, §4.5 and §9), one row per step.

Trace columns are `cairo_trace.TRACE_COLUMNS`. Every row: instruction decoding, operand
addresses, res, t0, t1, mul, and the memory and range-check arguments between a row's slots.
Transitions (every row but the last): next pc, ap, fp, and both arguments from a row's last slot
to the next row's first. Boundaries: pc, ap, fp at the first row, pc and ap at the last, the
sorted offsets start at rc_min and end at rc_max. Interaction (challenges z, α for memory and
z' for range checks): the running products of both arguments; the memory product ends at
z^|pub| / Π(z − (a + α·v)) over the public cells, which binds the program, main's arguments and
return values and the output; the range-check product ends at 1. With 16-bit offsets
(0 ≤ rc_min ≤ rc_max < 2^16) the instruction decoding is unique.

`cairo-rc/1`, for runs whose range_check segment [start, stop) is not empty, adds one builtin
cell per row: address' = address + 1 from start; a bit `used`, 1 on row 0, never rising, and
where it falls (or on the last row, if it never does) the address after the row is stop, so the
used rows hold exactly the cells start..stop − 1; each used cell is a sixth memory slot with the
value Σ 2^(16k)·partₖ over its eight parts, which are eight more range-check slots (so the value
is below 2^128). Unused rows put (0, 0) in the memory slot and free values in the parts. Builtins
other than output, range_check and those with a component are refused (`UnsupportedBuiltin`).

A run whose segment of a builtin with a component (`registry.COMPONENTS`, e.g. poseidon) is not
empty adds that component (`component.BuiltinComponent`: its columns, memory slots, periodic
columns and constraints, after the others in registry order). The AIR's name lists its
builtins: `cairo/1`, `cairo-rc/1`, `cairo-poseidon/1`, `cairo-rc-poseidon/1`, ….
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from cairo_jobs.native.air import BoundaryConstraint
from cairo_jobs.native.cairo_trace import (
    CPU_ONLY,
    FLAGS,
    OFFSET_BIAS,
    RC_PART_BITS,
    RC_PARTS,
    PublicInput,
    Shape,
)
from cairo_jobs.native.field import P
from cairo_jobs.native.permutation import SortedCopy

T = TypeVar("T")
INDEX = {name: k for k, name in enumerate(CPU_ONLY.trace_columns)}  # the cairo/1 columns


@dataclass(frozen=True)
class Arguments:
    """The memory and range-check arguments of a trace shape, and its columns by name."""

    memory: SortedCopy
    range_check: SortedCopy
    trace_columns: tuple[str, ...]

    @property
    def interaction_columns(self) -> tuple[str, ...]:
        return (*self.memory.products, *self.range_check.products)

    @property
    def all_columns(self) -> tuple[str, ...]:
        return (*self.trace_columns, *self.interaction_columns)


@dataclass(frozen=True)
class CairoAir:
    """The statement "a Cairo run with this public input exists" (in n_rows steps): `cairo/1`,
    with `-rc` and the components' names in the name when those segments are not empty."""

    public: PublicInput
    transition_degree: int = 2
    n_challenges: int = 3

    @property
    def name(self) -> str:
        rc = [] if self.public.range_check is None else ["rc"]
        return "-".join(["cairo", *rc, *(c.name for c, _ in self.public.components)]) + "/1"

    @property
    def arguments(self) -> Arguments:
        return _arguments(self.public.shape)

    @property
    def n_columns(self) -> int:
        return len(self.arguments.trace_columns)

    @property
    def n_interaction_columns(self) -> int:
        return len(self.arguments.interaction_columns)

    @property
    def index(self) -> dict[str, int]:
        """Trace column → position."""
        return {name: k for k, name in enumerate(self.arguments.trace_columns)}

    @property
    def log_trace_length(self) -> int:
        return self.public.log_rows

    @property
    def periodic_columns(self) -> tuple[tuple[int, ...], ...]:
        return tuple(column for c, _ in self.public.components for column in c.periodic())

    @property
    def periodic_names(self) -> tuple[str, ...]:
        return tuple(name for c, _ in self.public.components for name in c.periodic_names)

    def transitions(
        self, current: Sequence[T], following: Sequence[T], challenges: Sequence[int]
    ) -> list[T]:
        c, nxt = self._named(current), self._named(following)
        z, alpha, z_rc = challenges
        memory, rc = self.arguments.memory, self.arguments.range_check
        segment = self.public.range_check
        builtin = [] if segment is None else _rc_builtin_steps(c, nxt, segment[1])
        for component, segment in self.public.components:
            builtin += component.transitions(c, nxt, segment)
        return [
            *_registers(c, nxt),
            *memory.transitions(c, nxt, z, alpha),
            *rc.transitions(c, nxt, z_rc, 0),
            *builtin,
        ]

    def every_row(self, current: Sequence[T], challenges: Sequence[int]) -> list[T]:
        c = self._named(current)
        z, alpha, z_rc = challenges
        memory, rc = self.arguments.memory, self.arguments.range_check
        builtin = [] if self.public.range_check is None else _rc_builtin_cell(c)
        for component, _ in self.public.components:
            builtin += component.every_row(c)
        return [
            *_decoding(c),
            *_operands(c),
            *memory.every_row(c, z, alpha),
            *rc.every_row(c, z_rc, 0),
            *builtin,
        ]

    def boundaries(self) -> list[BoundaryConstraint]:
        last = self.public.n_rows - 1
        r, public, index = self.public.registers, self.public, self.index
        rc_sorted = self.arguments.range_check.sorted
        constraints = [
            BoundaryConstraint(index["pc"], 0, r.initial_pc),
            BoundaryConstraint(index["ap"], 0, r.initial_ap),
            BoundaryConstraint(index["fp"], 0, r.initial_ap),
            BoundaryConstraint(index["pc"], last, r.final_pc),
            BoundaryConstraint(index["ap"], last, r.final_ap),
            BoundaryConstraint(index[rc_sorted[0][0]], 0, public.rc_min),
            BoundaryConstraint(index[rc_sorted[-1][0]], last, public.rc_max),
        ]
        if public.range_check is not None:
            constraints += [
                BoundaryConstraint(index["rcb_addr"], 0, public.range_check[0]),
                BoundaryConstraint(index["rcb_used"], 0, 1),
            ]
        for component, segment in public.components:
            constraints += [
                BoundaryConstraint(index[name], 0, value)
                for name, value in component.first_row(segment).items()
            ]
        return constraints

    def row_constraints(
        self, current: Sequence[T], challenges: Sequence[int]
    ) -> list[tuple[int, T]]:
        c = self._named(current)
        z, alpha, z_rc = challenges
        last = self.public.n_rows - 1
        memory, rc = self.arguments.memory, self.arguments.range_check
        constraints = [
            (0, memory.first_row(c, z, alpha)),
            (0, rc.first_row(c, z_rc, 0)),
            (last, c[memory.products[-1]] - self.public_memory_product(z, alpha)),
            (last, c[rc.products[-1]] - 1),
        ]
        if self.public.range_check is not None:  # all rows used: the segment ends after the last
            stop = self.public.range_check[1]
            constraints.append((last, c["rcb_used"] * (c["rcb_addr"] + 1 - stop)))
        for component, segment in self.public.components:
            constraints += [(last, value) for value in component.last_row(c, segment)]
        return constraints

    def interaction(
        self, trace: Sequence[Sequence[int]], challenges: Sequence[int]
    ) -> list[np.ndarray]:
        columns = dict(zip(self.arguments.trace_columns, trace, strict=True))
        z, alpha, z_rc = challenges
        memory, rc = self.arguments.memory, self.arguments.range_check
        return [*memory.products_of(columns, z, alpha), *rc.products_of(columns, z_rc, 0)]

    def public_memory_product(self, z: int, alpha: int) -> int:
        """z^|pub| / Π(z − (a + α·v)) over the public memory cells."""
        denominator = 1
        for address, value in self.public.public_memory:
            denominator = denominator * (z - address - alpha * value) % P
        return pow(z, len(self.public.public_memory), P) * pow(denominator, -1, P) % P

    def public_input(self) -> list[int]:
        r, public = self.public.registers, self.public
        cells = [v for cell in public.public_memory for v in cell]
        segments = [
            *(public.range_check or ()), *(v for _, segment in public.components for v in segment)
        ]  # fmt: skip
        return [
            r.initial_pc, r.final_pc, r.initial_ap, r.final_ap, public.rc_min, public.rc_max,
            *segments, len(public.public_memory), *cells,
        ]  # fmt: skip

    def _named(self, row: Sequence[T]) -> dict[str, T]:
        names = (*self.arguments.all_columns, *self.periodic_names)
        return dict(zip(names, row, strict=True))


@functools.cache
def _arguments(shape: Shape) -> Arguments:
    memory, rc = shape.memory_sorted, shape.rc_sorted
    return Arguments(
        SortedCopy(
            shape.memory_accesses, memory, tuple(f"mem_prod_{k}" for k in range(len(memory)))
        ),
        SortedCopy(shape.rc_accesses, rc, tuple(f"rc_prod_{k}" for k in range(len(rc)))),
        shape.trace_columns,
    )


def _rc_builtin_cell(c: dict) -> list:
    """used is a bit; the memory slot is (address, Σ 2^(16k)·part_k) on used rows, else (0, 0)."""
    value = c[RC_PARTS[-1]]
    for part in reversed(RC_PARTS[:-1]):
        value = value * (1 << RC_PART_BITS) + c[part]
    used = c["rcb_used"]
    return [
        used * used - used,
        c["rcb_mem_addr"] - used * c["rcb_addr"],
        c["rcb_mem_value"] - used * value,
    ]


def _rc_builtin_steps(c: dict, nxt: dict, stop: int) -> list:
    """The address steps by 1; used never goes from 0 to 1, and where it goes from 1 to 0 the
    next address is the segment's stop."""
    return [
        nxt["rcb_addr"] - c["rcb_addr"] - 1,
        nxt["rcb_used"] * (1 - c["rcb_used"]),
        (c["rcb_used"] - nxt["rcb_used"]) * (nxt["rcb_addr"] - stop),
    ]


def _decoding(c: dict) -> list:
    """Flags are bits; inst = off_dst + 2^16·off_op0 + 2^32·off_op1 + 2^48·Σ 2^i·flag_i."""
    flag_sum = c[FLAGS[0]]
    for k, flag in enumerate(FLAGS[1:], start=1):
        flag_sum = flag_sum + (1 << k) * c[flag]
    encoded = c["off_dst"] + (1 << 16) * c["off_op0"] + (1 << 32) * c["off_op1"]
    return [c["inst"] - encoded - (1 << 48) * flag_sum, *(c[f] * c[f] - c[f] for f in FLAGS)]


def _operands(c: dict) -> list:
    """Operand addresses, mul, res, t0 and t1 (§4.5, "operand constraints")."""
    op1_base = (
        c["op1_imm"] * c["pc"]
        + c["op1_ap"] * c["ap"]
        + c["op1_fp"] * c["fp"]
        + (1 - c["op1_imm"] - c["op1_ap"] - c["op1_fp"]) * c["op0"]
    )
    res = (
        c["res_add"] * (c["op0"] + c["op1"])
        + c["res_mul"] * c["mul"]
        + (1 - c["res_add"] - c["res_mul"] - c["pc_jnz"]) * c["op1"]
    )
    return [
        c["dst_addr"] - _register(c, "dst_reg") - c["off_dst"] + OFFSET_BIAS,
        c["op0_addr"] - _register(c, "op0_reg") - c["off_op0"] + OFFSET_BIAS,
        c["op1_addr"] - op1_base - c["off_op1"] + OFFSET_BIAS,
        c["mul"] - c["op0"] * c["op1"],
        (1 - c["pc_jnz"]) * c["res"] - res,
        c["t0"] - c["pc_jnz"] * c["dst"],
        c["t1"] - c["t0"] * c["res"],
    ]


def _register(c: dict, flag: str) -> object:
    """fp when the flag is set, else ap."""
    return c[flag] * c["fp"] + (1 - c[flag]) * c["ap"]


def _registers(c: dict, nxt: dict) -> list:
    """Next pc, ap, fp and the call / assert_eq checks (§4.5)."""
    size = c["op1_imm"] + 1
    regular = (1 - c["pc_abs"] - c["pc_rel"] - c["pc_jnz"]) * (c["pc"] + size)
    jump = regular + c["pc_abs"] * c["res"] + c["pc_rel"] * (c["pc"] + c["res"])
    return [
        (c["t1"] - c["pc_jnz"]) * (nxt["pc"] - (c["pc"] + size)),
        c["t0"] * (nxt["pc"] - (c["pc"] + c["op1"])) + (1 - c["pc_jnz"]) * nxt["pc"] - jump,
        nxt["ap"] - (c["ap"] + c["ap_add"] * c["res"] + c["ap_add1"] + 2 * c["call"]),
        nxt["fp"]
        - (c["ret"] * c["dst"] + c["call"] * (c["ap"] + 2) + (1 - c["ret"] - c["call"]) * c["fp"]),
        c["call"] * (c["dst"] - c["fp"]),
        c["call"] * (c["op0"] - (c["pc"] + size)),
        c["assert_eq"] * (c["dst"] - c["res"]),
    ]
