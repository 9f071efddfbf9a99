"""The Cairo CPU AIR of the Cairo paper (Goldberg, Papini, Riabzev, §4.5), one row per step.

Columns are `cairo_trace.COLUMNS`. Per-row constraints (instruction decoding, operand
addresses, res, t0, t1, mul) and step constraints (next pc, ap, fp) are all expressed as
transitions, so they hold on every row but the last. Boundaries: pc and ap at the first and last
row. Not yet here (so this AIR alone does NOT prove a Cairo run): the memory permutation
argument that ties the dst/op0/op1/inst values to one consistent memory holding the public
program and output, and the 16-bit range checks of the offsets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from cairo_jobs.native.air import BoundaryConstraint, WithoutInteraction
from cairo_jobs.native.cairo_trace import COLUMNS, FLAGS, OFFSET_BIAS, Registers

T = TypeVar("T")
INDEX = {name: k for k, name in enumerate(COLUMNS)}


@dataclass(frozen=True)
class CairoCpuAir(WithoutInteraction):
    """The CPU constraints of a run of 2^log_trace_length steps between these registers."""

    log_trace_length: int
    registers: Registers
    name: str = "cairo-cpu/0"
    n_columns: int = len(COLUMNS)
    transition_degree: int = 2

    def transitions(
        self, current: Sequence[T], following: Sequence[T], challenges: Sequence[int]
    ) -> list[T]:
        c = dict(zip(COLUMNS, current, strict=True))
        nxt = dict(zip(COLUMNS, following, strict=True))
        return [
            *_decoding(c),
            *_operands(c),
            *_registers(c, nxt),
        ]

    def boundaries(self) -> list[BoundaryConstraint]:
        last = (1 << self.log_trace_length) - 1
        r = self.registers
        return [
            BoundaryConstraint(INDEX["pc"], 0, r.initial_pc),
            BoundaryConstraint(INDEX["ap"], 0, r.initial_ap),
            BoundaryConstraint(INDEX["fp"], 0, r.initial_ap),
            BoundaryConstraint(INDEX["pc"], last, r.final_pc),
            BoundaryConstraint(INDEX["ap"], last, r.final_ap),
        ]

    def public_input(self) -> list[int]:
        r = self.registers
        return [r.initial_pc, r.final_pc, r.initial_ap, r.final_ap]


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
