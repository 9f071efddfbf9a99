"""Proof-mode artifacts (trace.bin, memory.bin, public input) → the CPU AIR's trace columns.

trace.bin holds one (ap, fp, pc) triple of little-endian u64 per step; memory.bin one
(address u64 LE, value 32 bytes LE) pair per cell. Each step becomes one row: the registers, the
instruction and its decoding (biased 16-bit offsets, 15 flag bits), the three operand addresses
and values, and the auxiliary res, t0, t1 and mul of the Cairo paper (§4.5).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cairo_jobs.model import ProofArtifacts
from cairo_jobs.native.field import P

OFFSET_BIAS = 2**15
N_FLAGS = 15
FLAGS = (
    "dst_reg", "op0_reg", "op1_imm", "op1_fp", "op1_ap", "res_add", "res_mul", "pc_abs",
    "pc_rel", "pc_jnz", "ap_add", "ap_add1", "call", "ret", "assert_eq",
)  # fmt: skip
COLUMNS = (
    "pc", "ap", "fp", "inst", "off_dst", "off_op0", "off_op1", *FLAGS,
    "dst_addr", "dst", "op0_addr", "op0", "op1_addr", "op1", "res", "t0", "t1", "mul",
)  # fmt: skip


class ArtifactError(ValueError):
    """The proof-mode files are missing, truncated or inconsistent."""


@dataclass(frozen=True)
class Registers:
    """Where the run starts and ends (from the public input's memory segments)."""

    initial_pc: int
    final_pc: int
    initial_ap: int
    final_ap: int


def read_trace(path: Path) -> list[tuple[int, int, int]]:
    """The (pc, ap, fp) of each step."""
    raw = path.read_bytes()
    if not raw or len(raw) % 24:
        raise ArtifactError(f"{path} is not a list of 24-byte (ap, fp, pc) entries")
    words = [int.from_bytes(raw[k : k + 8], "little") for k in range(0, len(raw), 8)]
    return [(words[k + 2], words[k], words[k + 1]) for k in range(0, len(words), 3)]


def read_memory(path: Path) -> dict[int, int]:
    """Address → value of every memory cell the run touched."""
    raw = path.read_bytes()
    if len(raw) % 40:
        raise ArtifactError(f"{path} is not a list of 40-byte (address, value) entries")
    memory = {}
    for k in range(0, len(raw), 40):
        value = int.from_bytes(raw[k + 8 : k + 40], "little")
        if value >= P:
            raise ArtifactError(f"{path}: a memory value is not below the Stark prime")
        memory[int.from_bytes(raw[k : k + 8], "little")] = value
    return memory


def read_registers(public_input_path: Path) -> Registers:
    segments = json.loads(public_input_path.read_text())["memory_segments"]
    return Registers(
        initial_pc=segments["program"]["begin_addr"],
        final_pc=segments["program"]["stop_ptr"],
        initial_ap=segments["execution"]["begin_addr"],
        final_ap=segments["execution"]["stop_ptr"],
    )


def decode(instruction: int) -> tuple[list[int], list[int]]:
    """The biased offsets (dst, op0, op1) and the 15 flag bits of an encoded instruction."""
    if not 0 <= instruction < 2**63:
        raise ArtifactError(f"{instruction:#x} is not an instruction (bit 63 and up must be 0)")
    offsets = [(instruction >> (16 * k)) & 0xFFFF for k in range(3)]
    flags = [(instruction >> (48 + k)) & 1 for k in range(N_FLAGS)]
    return offsets, flags


def step_row(pc: int, ap: int, fp: int, memory: dict[int, int]) -> list[int]:
    """One step's row, in COLUMNS order."""
    inst = _load(memory, pc)
    (off_dst, off_op0, off_op1), flags = decode(inst)
    f = dict(zip(FLAGS, flags, strict=True))
    dst_addr = (fp if f["dst_reg"] else ap) + off_dst - OFFSET_BIAS
    op0_addr = (fp if f["op0_reg"] else ap) + off_op0 - OFFSET_BIAS
    op0 = _load(memory, op0_addr)
    op1_base = pc if f["op1_imm"] else fp if f["op1_fp"] else ap if f["op1_ap"] else op0
    op1_addr = op1_base + off_op1 - OFFSET_BIAS
    dst, op1 = _load(memory, dst_addr), _load(memory, op1_addr)
    mul = op0 * op1 % P
    if f["pc_jnz"]:
        res = pow(dst, -1, P) if dst else 0  # jnz: res = 1/dst, so t1 = 1 exactly when jumping
    elif f["res_add"]:
        res = (op0 + op1) % P
    elif f["res_mul"]:
        res = mul
    else:
        res = op1
    t0 = dst if f["pc_jnz"] else 0
    t1 = t0 * res % P
    return [
        pc, ap, fp, inst, off_dst, off_op0, off_op1, *flags,
        dst_addr, dst, op0_addr, op0, op1_addr, op1, res, t0, t1, mul,
    ]  # fmt: skip


def _load(memory: dict[int, int], address: int) -> int:
    try:
        return memory[address]
    except KeyError:
        raise ArtifactError(f"the run read memory cell {address}, absent from memory.bin") from None


def trace_columns(artifacts: ProofArtifacts) -> tuple[list[list[int]], Registers]:
    """The CPU AIR's columns (one row per step) and the run's boundary registers."""
    memory = read_memory(artifacts.memory)
    rows = [step_row(pc, ap, fp, memory) for pc, ap, fp in read_trace(artifacts.trace)]
    columns = [list(column) for column in zip(*rows, strict=True)]
    return columns, read_registers(artifacts.public_input)
