"""The Cairo AIR of the Cairo paper (Goldberg, Papini, Riabzev, §4.5 and §9), one row per step.

Trace columns are `cairo_trace.TRACE_COLUMNS`. Every row: instruction decoding, operand
addresses, res, t0, t1, mul, and the memory and range-check arguments between a row's slots.
Transitions (every row but the last): next pc, ap, fp, and both arguments from a row's last slot
to the next row's first. Boundaries: pc, ap, fp at the first row, pc and ap at the last, the
sorted offsets start at rc_min and end at rc_max. Interaction (challenges z, α for memory and
z' for range checks): the running products of both arguments; the memory product ends at
z^|pub| / Π(z − (a + α·v)) over the public cells, which binds the program, main's arguments and
return values and the output; the range-check product ends at 1. With 16-bit offsets
(0 ≤ rc_min ≤ rc_max < 2^16) the instruction decoding is unique. Builtins other than output
are refused (`cairo_trace.UnsupportedBuiltin`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from cairo_jobs.native.air import BoundaryConstraint
from cairo_jobs.native.cairo_trace import (
    FLAGS,
    MEMORY_ACCESSES,
    MEMORY_SORTED,
    OFFSET_BIAS,
    RC_ACCESSES,
    RC_SORTED,
    TRACE_COLUMNS,
    PublicInput,
)
from cairo_jobs.native.field import P
from cairo_jobs.native.permutation import SortedCopy

T = TypeVar("T")
INDEX = {name: k for k, name in enumerate(TRACE_COLUMNS)}
MEMORY = SortedCopy(
    MEMORY_ACCESSES, MEMORY_SORTED, tuple(f"mem_prod_{k}" for k in range(len(MEMORY_SORTED)))
)
RANGE_CHECK = SortedCopy(
    RC_ACCESSES, RC_SORTED, tuple(f"rc_prod_{k}" for k in range(len(RC_SORTED)))
)
INTERACTION_COLUMNS = (*MEMORY.products, *RANGE_CHECK.products)
ALL_COLUMNS = (*TRACE_COLUMNS, *INTERACTION_COLUMNS)


@dataclass(frozen=True)
class CairoAir:
    """The statement "a Cairo run of n_steps steps with this public input exists"."""

    public: PublicInput
    name: str = "cairo/1"
    n_columns: int = len(TRACE_COLUMNS)
    transition_degree: int = 2
    n_challenges: int = 3
    n_interaction_columns: int = len(INTERACTION_COLUMNS)

    @property
    def log_trace_length(self) -> int:
        return self.public.log_steps

    def transitions(
        self, current: Sequence[T], following: Sequence[T], challenges: Sequence[int]
    ) -> list[T]:
        c, nxt = _named(current), _named(following)
        z, alpha, z_rc = challenges
        return [
            *_registers(c, nxt),
            *MEMORY.transitions(c, nxt, z, alpha),
            *RANGE_CHECK.transitions(c, nxt, z_rc, 0),
        ]

    def every_row(self, current: Sequence[T], challenges: Sequence[int]) -> list[T]:
        c = _named(current)
        z, alpha, z_rc = challenges
        return [
            *_decoding(c),
            *_operands(c),
            *MEMORY.every_row(c, z, alpha),
            *RANGE_CHECK.every_row(c, z_rc, 0),
        ]

    def boundaries(self) -> list[BoundaryConstraint]:
        last = self.public.n_steps - 1
        r, public = self.public.registers, self.public
        return [
            BoundaryConstraint(INDEX["pc"], 0, r.initial_pc),
            BoundaryConstraint(INDEX["ap"], 0, r.initial_ap),
            BoundaryConstraint(INDEX["fp"], 0, r.initial_ap),
            BoundaryConstraint(INDEX["pc"], last, r.final_pc),
            BoundaryConstraint(INDEX["ap"], last, r.final_ap),
            BoundaryConstraint(INDEX[RC_SORTED[0][0]], 0, public.rc_min),
            BoundaryConstraint(INDEX[RC_SORTED[-1][0]], last, public.rc_max),
        ]

    def row_constraints(
        self, current: Sequence[T], challenges: Sequence[int]
    ) -> list[tuple[int, T]]:
        c = _named(current)
        z, alpha, z_rc = challenges
        last = self.public.n_steps - 1
        return [
            (0, MEMORY.first_row(c, z, alpha)),
            (0, RANGE_CHECK.first_row(c, z_rc, 0)),
            (last, c[MEMORY.products[-1]] - self.public_memory_product(z, alpha)),
            (last, c[RANGE_CHECK.products[-1]] - 1),
        ]

    def interaction(
        self, trace: Sequence[Sequence[int]], challenges: Sequence[int]
    ) -> list[np.ndarray]:
        columns = dict(zip(TRACE_COLUMNS, trace, strict=True))
        z, alpha, z_rc = challenges
        return [*MEMORY.products_of(columns, z, alpha), *RANGE_CHECK.products_of(columns, z_rc, 0)]

    def public_memory_product(self, z: int, alpha: int) -> int:
        """z^|pub| / Π(z − (a + α·v)) over the public memory cells."""
        denominator = 1
        for address, value in self.public.public_memory:
            denominator = denominator * (z - address - alpha * value) % P
        return pow(z, len(self.public.public_memory), P) * pow(denominator, -1, P) % P

    def public_input(self) -> list[int]:
        r, public = self.public.registers, self.public
        cells = [v for cell in public.public_memory for v in cell]
        return [
            r.initial_pc, r.final_pc, r.initial_ap, r.final_ap, public.rc_min, public.rc_max,
            len(public.public_memory), *cells,
        ]  # fmt: skip


def _named(row: Sequence[T]) -> dict[str, T]:
    return dict(zip(ALL_COLUMNS, row, strict=True))


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
