"""Proof-mode artifacts (trace.bin, memory.bin, public input) → the Cairo AIR's trace columns.

trace.bin holds one (ap, fp, pc) triple of little-endian u64 per step; memory.bin one
(address u64 LE, value 32 bytes LE) pair per cell. Each step becomes one row: the registers, the
instruction and its decoding (biased 16-bit offsets, 15 flag bits), the three operand addresses
and values, and the auxiliary res, t0, t1 and mul of the Cairo paper (§4.5). Then the columns of
the memory and range-check arguments: a free memory slot per row ((0, 0) for each public cell,
then the addresses no step reads, then a copy of the instruction fetch), the five memory slots
in address order, a free range-check slot (the values in [rc_min, rc_max] no offset takes, then
a copy of off_dst) and the four range-check slots in increasing order.

A run whose range_check segment is not empty has more columns (`Shape`, `WITH_RANGE_CHECK`): per
row one builtin cell (its address, a "used" bit, the value's eight 16-bit parts, and the cell as
a sixth memory slot, (0, 0) on the unused rows past the segment's end) and the parts as eight
more range-check slots (on unused rows they are free: they fill range-check holes). A run whose
segment of a builtin with a component (`registry.COMPONENTS`, e.g. poseidon) is not empty has
that component's columns and memory slots too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cairo_jobs.native.component import BuiltinCellError, BuiltinComponent, Segment
from cairo_jobs.native.field import P
from cairo_jobs.native.registry import COMPONENTS

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
CPU_MEMORY_ACCESSES = (
    ("pc", "inst"),
    ("dst_addr", "dst"),
    ("op0_addr", "op0"),
    ("op1_addr", "op1"),
)
MEMORY_FREE = ("mem_free_addr", "mem_free_value")
CPU_RC_ACCESSES = (("off_dst",), ("off_op0",), ("off_op1",))
RC_FREE = ("rc_free",)
RC_PART_BITS = 16
RC_PARTS = tuple(f"rcb_part_{k}" for k in range(8))  # a range_check cell is below 2^128
RC_BUILTIN_MEMORY = ("rcb_mem_addr", "rcb_mem_value")
RC_BUILTIN_COLUMNS = ("rcb_addr", "rcb_used", *RC_PARTS, *RC_BUILTIN_MEMORY)
SUPPORTED_BUILTINS = ("output", "range_check", *(component.name for component in COMPONENTS))
JMP_REL_0 = 0x010780017FFF7FFF  # the instruction proof mode ends (and pads) a run with


@dataclass(frozen=True)
class Shape:
    """Which columns a trace has: the memory and range-check access slots (with the free slots)
    and the builtin columns; the sorted slots follow from the access slots."""

    memory_accesses: tuple[tuple[str, ...], ...]
    rc_accesses: tuple[tuple[str, ...], ...]
    builtin_columns: tuple[str, ...]

    @property
    def memory_sorted(self) -> tuple[tuple[str, str], ...]:
        return tuple((f"mem_addr_{k}", f"mem_value_{k}") for k in range(len(self.memory_accesses)))

    @property
    def rc_sorted(self) -> tuple[tuple[str], ...]:
        return tuple((f"rc_{k}",) for k in range(len(self.rc_accesses)))

    @property
    def trace_columns(self) -> tuple[str, ...]:
        return (
            *COLUMNS, *MEMORY_FREE, *(name for slot in self.memory_sorted for name in slot),
            *RC_FREE, *(name for (name,) in self.rc_sorted), *self.builtin_columns,
        )  # fmt: skip


def shape_of(range_check: bool, components: tuple[BuiltinComponent, ...] = ()) -> Shape:
    """The columns of a run whose range_check segment is (or not) and whose components' segments
    are not empty (output needs none); components in registry order."""
    memory, rc, builtins = [*CPU_MEMORY_ACCESSES, MEMORY_FREE], [*CPU_RC_ACCESSES, RC_FREE], []
    if range_check:
        memory.append(RC_BUILTIN_MEMORY)
        rc += [(part,) for part in RC_PARTS]
        builtins += RC_BUILTIN_COLUMNS
    for component in components:
        memory += component.memory_slots
        builtins += component.columns
    return Shape(tuple(memory), tuple(rc), tuple(builtins))


CPU_ONLY = shape_of(range_check=False)
WITH_RANGE_CHECK = shape_of(range_check=True)
TRACE_COLUMNS = CPU_ONLY.trace_columns


class ArtifactError(ValueError):
    """The proof-mode files (or a public input) are missing, truncated or inconsistent."""


class UnsupportedBuiltin(ArtifactError):
    """The run uses a builtin the native AIR does not prove yet."""


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


@dataclass(frozen=True)
class PublicInput:
    """What a proof of a Cairo run makes public: steps, registers, the offsets' range bounds,
    the public memory cells (program, main's arguments and return values, output), the
    range_check segment's (start, stop) when it is not empty and those of the components'
    builtins (`registry.COMPONENTS`) that are not empty, by builtin name."""

    n_steps: int
    registers: Registers
    rc_min: int
    rc_max: int
    public_memory: tuple[tuple[int, int], ...]
    range_check: Segment | None = None
    segments: Mapping[str, Segment] = field(default_factory=dict)

    @property
    def components(self) -> tuple[tuple[BuiltinComponent, Segment], ...]:
        """The components whose segments are not empty, in registry order, with them."""
        return tuple((c, self.segments[c.name]) for c in COMPONENTS if c.name in self.segments)

    @property
    def n_rows(self) -> int:
        """The trace's rows: n_steps, doubled while a component's instances do not fit; the
        rows past the run repeat its last step (`jmp rel 0`, as proof mode pads)."""
        rows = self.n_steps
        for component, segment in self.components:
            while rows < component.instances(segment) * component.rows:
                rows *= 2
        return rows

    @property
    def log_rows(self) -> int:
        return self.n_rows.bit_length() - 1

    @property
    def shape(self) -> Shape:
        components = tuple(component for component, _ in self.components)
        return shape_of(self.range_check is not None, components)

    @classmethod
    def from_json(cls, document: Any) -> PublicInput:
        """From cairo-run's public input (JSON object); ArtifactError says what is wrong."""
        try:
            return _parse_public_input(document)
        except ArtifactError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ArtifactError(
                f"the public input is malformed ({type(err).__name__}: {err}); "
                "give the public_input.json cairo-run wrote in proof mode"
            ) from None


def _parse_public_input(document: Any) -> PublicInput:
    segments = document["memory_segments"]
    for name, segment in segments.items():
        used = _int(segment["stop_ptr"], 2**64) != _int(segment["begin_addr"], 2**64)
        if used and name not in ("program", "execution", *SUPPORTED_BUILTINS):
            raise UnsupportedBuiltin(
                f"the run uses the {name} builtin, which the native prover does not "
                "support yet; prove it with Stone"
            )
    n_steps = _int(document["n_steps"], 2**40)
    if n_steps < 2 or n_steps & (n_steps - 1):
        raise ArtifactError(f"n_steps {n_steps} is not a power of two; run in proof mode")
    rc_min, rc_max = _int(document["rc_min"], 2**16), _int(document["rc_max"], 2**16)
    if rc_min > rc_max:
        raise ArtifactError(f"rc_min {rc_min} is above rc_max {rc_max}")
    cells = tuple(
        (_int(cell["address"], 2**64), _int(int(cell["value"], 16), P))
        for cell in document["public_memory"]
    )
    addresses = [address for address, _ in cells]
    if 0 in addresses or len(set(addresses)) != len(addresses):
        raise ArtifactError("public memory addresses must be distinct and non-zero")
    registers = Registers(
        initial_pc=_int(segments["program"]["begin_addr"], 2**64),
        final_pc=_int(segments["program"]["stop_ptr"], 2**64),
        initial_ap=_int(segments["execution"]["begin_addr"], 2**64),
        final_ap=_int(segments["execution"]["stop_ptr"], 2**64),
    )
    range_check = _segment(segments, "range_check", n_steps, 1)
    components = {
        c.name: segment
        for c in COMPONENTS
        if (segment := _segment(segments, c.name, c.max_instances, c.cells)) is not None
    }
    return PublicInput(n_steps, registers, rc_min, rc_max, cells, range_check, components)


def _segment(segments: dict, name: str, capacity: int, cells: int) -> Segment | None:
    """A builtin segment's (start, stop), None when it is absent or empty; it must hold 1 to
    `capacity` instances of `cells` cells."""
    if name not in segments:
        return None
    start = _int(segments[name]["begin_addr"], 2**64)
    stop = _int(segments[name]["stop_ptr"], 2**64)
    if stop == start:
        return None
    if not start < stop <= start + capacity * cells or (stop - start) % cells:
        raise ArtifactError(
            f"the {name} segment [{start}, {stop}) is not 1 to {capacity} instances of {cells} "
            "cells; run more steps or give cairo-run's public input"
        )
    return start, stop


def _int(value: Any, bound: int) -> int:
    if type(value) is not int or not 0 <= value < bound:
        raise ArtifactError(f"{value!r} is not an integer in [0, {bound:#x})")
    return value


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


def trace_columns(
    public_input: Path, trace: Path, memory_file: Path
) -> tuple[list[list[int]], PublicInput]:
    """The trace columns (`public.shape` order, one row per step) and the run's public input,
    from cairo-run's proof-mode files."""
    public = PublicInput.from_json(json.loads(public_input.read_text()))
    memory = read_memory(memory_file)
    steps = read_trace(trace)
    if len(steps) != public.n_steps:
        raise ArtifactError(f"trace.bin has {len(steps)} steps, the public input {public.n_steps}")
    rows = [step_row(pc, ap, fp, memory) for pc, ap, fp in steps]
    rows += _padding(rows[-1], public.n_rows - len(rows))
    columns = dict(zip(COLUMNS, (list(c) for c in zip(*rows, strict=True)), strict=True))
    shape = public.shape
    if public.range_check is not None:
        columns.update(range_check_builtin_columns(public.range_check, public.n_rows, memory))
    for component, segment in public.components:
        try:
            columns.update(component.fill(segment, public.n_rows, memory))
        except BuiltinCellError as err:
            raise ArtifactError(str(err)) from None
    columns.update(memory_columns(columns, public.public_memory, memory, shape))
    columns.update(range_check_columns(columns, public.rc_min, public.rc_max, shape))
    return [columns[name] for name in shape.trace_columns], public


def _padding(last: list[int], count: int) -> list[list[int]]:
    """`count` more rows repeating the last step, which must be `jmp rel 0` (it leaves pc, ap
    and fp as they are)."""
    if count and (last[COLUMNS.index("inst")] != JMP_REL_0 or last[COLUMNS.index("op1")] != 0):
        raise ArtifactError(
            "the run's builtin instances need more rows than its steps and its last step is "
            "not jmp rel 0 to repeat; give cairo-run's proof-mode files"
        )
    return [last] * count


def range_check_builtin_columns(
    segment: tuple[int, int], n: int, memory: dict[int, int]
) -> dict[str, list[int | None]]:
    """One range_check cell per row: row k < stop − start holds the cell start + k; the rows
    after it are unused, their parts left free (None)."""
    start, stop = segment
    used = stop - start
    values = []
    for address in range(start, stop):
        values.append(value := memory.get(address))
        if value is None:
            raise ArtifactError(f"the range_check cell {address} is absent from memory.bin")
        if value >= 1 << (RC_PART_BITS * len(RC_PARTS)):
            raise ArtifactError(f"the range_check cell {address} holds {value:#x}, not below 2^128")
    unused = n - used
    columns: dict[str, list[int | None]] = {
        "rcb_addr": [start + k for k in range(n)],
        "rcb_used": [1] * used + [0] * unused,
        "rcb_mem_addr": [*range(start, stop), *[0] * unused],
        "rcb_mem_value": [*values, *[0] * unused],
    }
    mask = (1 << RC_PART_BITS) - 1
    for k, name in enumerate(RC_PARTS):
        columns[name] = [(v >> (RC_PART_BITS * k)) & mask for v in values] + [None] * unused
    return columns


def memory_columns(
    cpu: dict[str, list[int]],
    public_memory: tuple[tuple[int, int], ...],
    memory: dict[int, int],
    shape: Shape = CPU_ONLY,
) -> dict[str, list[int]]:
    """The free memory slot and the sorted memory slots."""
    accesses = [
        (address, value)
        for address_name, value_name in shape.memory_accesses
        if address_name != MEMORY_FREE[0]
        for address, value in zip(cpu[address_name], cpu[value_name], strict=True)
    ]
    public_addresses = {address for address, _ in public_memory}
    seen = {address for address, _ in accesses if address} | public_addresses
    holes = [(a, memory.get(a, 0)) for a in range(min(seen), max(seen) + 1) if a not in seen]
    free = [(0, 0)] * len(public_memory) + holes
    n = len(cpu["pc"])
    if len(free) > n:
        raise ArtifactError(
            f"{len(public_memory)} public cells and {len(holes)} memory holes do not fit in "
            f"{n} steps; run more steps (e.g. a larger layout or input)"
        )
    free += list(zip(cpu["pc"][len(free) :], cpu["inst"][len(free) :], strict=True))
    ordered = sorted(accesses + free[len(public_memory) :] + list(public_memory))
    columns = {"mem_free_addr": [a for a, _ in free], "mem_free_value": [v for _, v in free]}
    return columns | _slots(shape.memory_sorted, ordered)


def range_check_columns(
    cpu: dict[str, list[int | None]], rc_min: int, rc_max: int, shape: Shape = CPU_ONLY
) -> dict[str, list[int]]:
    """The free range-check slot, the builtin's parts on unused rows (both first take the
    values of [rc_min, rc_max] nothing else takes) and the sorted range-check slots."""
    n = len(cpu["pc"])
    names = [name for (name,) in shape.rc_accesses if name != RC_FREE[0]]
    present = {v for name in names for v in cpu[name] if v is not None}
    holes = [v for v in range(rc_min, rc_max + 1) if v not in present]
    n_free_parts = sum(v is None for name in names for v in cpu[name])
    if len(holes) > n + n_free_parts:
        raise ArtifactError(
            f"{len(holes)} range-check holes do not fit in {n} steps ({n + n_free_parts} free "
            "slots); run more steps"
        )
    columns = {"rc_free": holes[:n] + cpu["off_dst"][len(holes) :]}
    spare = iter(holes[n:])
    for name in names:
        if name in RC_PARTS:
            columns[name] = [next(spare, rc_min) if v is None else v for v in cpu[name]]
    filled = cpu | columns
    ordered = sorted(v for name in (*names, *RC_FREE) for v in filled[name])
    return columns | _slots(shape.rc_sorted, [(v,) for v in ordered])


def _slots(
    names: tuple[tuple[str, ...], ...], ordered: list[tuple[int, ...]]
) -> dict[str, list[int]]:
    """Spreads a sorted list over the slots, row by row."""
    width = len(names)
    return {
        name: [entry[i] for entry in ordered[k::width]]
        for k, slot in enumerate(names)
        for i, name in enumerate(slot)
    }
