"""A shorter path through one Cairo VM step, for instructions of the program without hints.

cairo-lang's `VirtualMachine.step` spends ~30 us on an instruction: an `Operands` object, three
address computations through `RunContext`, enum dispatch through nested class attributes, the
validated memory's proxy, and several layers of calls. `run_plain` does the same step for the
common cases with the instruction's fields unpacked once (`Plan`) and local arithmetic:

- it reads the operands, deduces the ones an `assert_eq` or a `call` writes, computes `res`, the
  opcode's assertions and the new registers without any side effect;
- only then it writes the deduced cells through the validated memory (its rules and checks),
  marks the accessed addresses and moves the registers, as `run_instruction` does.

Anything else (a relocatable where a number is needed or the reverse, a temporary segment, an
auto-deduction rule, an operand that cannot be deduced, a failing assertion) returns False before
any side effect: cairo-lang's own step then runs the instruction and raises its own error. The
instruction trace (proof mode) gets the same entries.

`step_planned` plans the hint-free instructions of a program as a run reaches them; a caller
keeps the plans between runs of the same program at the same address. Used by the devnet
(`devnet.runner`) and the job runner (`cairo_jobs.vm`); `tests/devnet/test_step.py`,
`tests/devnet/test_runner.py` and `tests/cairo_jobs/test_step.py` compare with the stock VM.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any, NamedTuple

from starkware.cairo.lang.compiler.instruction import Instruction, Register
from starkware.cairo.lang.vm.relocatable import RelocatableValue
from starkware.cairo.lang.vm.trace_entry import TraceEntry

FP = Register.FP
OP1_IMM, OP1_AP, OP1_FP, OP1_OP0 = (Instruction.Op1Addr.IMM, Instruction.Op1Addr.AP,
                                    Instruction.Op1Addr.FP, Instruction.Op1Addr.OP0)
RES_OP1, RES_ADD, RES_MUL = Instruction.Res.OP1, Instruction.Res.ADD, Instruction.Res.MUL
PC_REGULAR, PC_JUMP, PC_JUMP_REL, PC_JNZ = (
    Instruction.PcUpdate.REGULAR, Instruction.PcUpdate.JUMP, Instruction.PcUpdate.JUMP_REL,
    Instruction.PcUpdate.JNZ)
AP_ADD, AP_ADD1, AP_ADD2 = (Instruction.ApUpdate.ADD, Instruction.ApUpdate.ADD1,
                            Instruction.ApUpdate.ADD2)
FP_AP_PLUS2, FP_DST = Instruction.FpUpdate.AP_PLUS2, Instruction.FpUpdate.DST
ASSERT_EQ, CALL = Instruction.Opcode.ASSERT_EQ, Instruction.Opcode.CALL

Relocatable = RelocatableValue
_new = object.__new__


def address(segment: int, offset: int) -> RelocatableValue:
    """`RelocatableValue(segment, offset)` without the frozen dataclass's `__init__` (twice as
    fast): the same fields, so the same equality and hash."""
    value = _new(Relocatable)
    fields = value.__dict__
    fields["segment_index"] = segment
    fields["offset"] = offset
    return value


class Plan(NamedTuple):
    """An instruction's fields in the order `run_plain` unpacks them."""

    dst_fp: bool
    off0: int
    op0_fp: bool
    off1: int
    op1_addr: Instruction.Op1Addr
    off2: int
    res: Instruction.Res
    opcode: Instruction.Opcode
    pc_update: Instruction.PcUpdate
    ap_update: Instruction.ApUpdate
    fp_update: Instruction.FpUpdate
    size: int


def plan_of(instruction: Instruction) -> Plan | None:
    """The plan of `instruction`; None for one the stock step must run (a malformed immediate)."""
    if instruction.op1_addr is OP1_IMM and instruction.off2 != 1:
        return None
    return Plan(instruction.dst_register is FP, instruction.off0,
                instruction.op0_register is FP, instruction.off1, instruction.op1_addr,
                instruction.off2, instruction.res, instruction.opcode, instruction.pc_update,
                instruction.ap_update, instruction.fp_update, instruction.size)


class ProgramSpan:
    """The addresses of a program's words: `base` and the `size` - 1 after it."""

    def __init__(self, base: RelocatableValue, size: int) -> None:
        self.segment, self.start, self.end = base.segment_index, base.offset, base.offset + size

    def __contains__(self, address: object) -> bool:
        return (type(address) is Relocatable and address.segment_index == self.segment
                and self.start <= address.offset < self.end)


def step_planned(vm: Any, plans: dict[Any, Plan], program: Container[Any]) -> bool:
    """Run the instruction at `vm`'s pc on the short path, planning it (into `plans`) the first
    time if it is a hint-free instruction of `program` (its addresses); False, with nothing
    changed, if cairo-lang's step must run it."""
    pc = vm.run_context.pc
    plan = plans.get(pc)
    if plan is None:
        if pc in vm.hints or pc not in program or pc + 1 not in program:
            return False
        plan = plan_of(vm.decode_current_instruction())
        if plan is None:
            return False
        plans[pc] = plan
    return run_plain(vm, plan)


def run_plain(vm: Any, plan: Plan) -> bool:
    """Run the program instruction at `vm`'s pc as cairo-lang's step would; False (with nothing
    changed) if it is not a case handled here."""
    context = vm.run_context
    pc, ap, fp = context.pc, context.ap, context.fp
    memory = context.memory
    if (memory.relocation_rules or type(pc) is not Relocatable or type(ap) is not Relocatable
            or type(fp) is not Relocatable):
        return False
    (dst_fp, off0, op0_fp, off1, op1_addr, off2, res_kind, opcode, pc_update, ap_update,
     fp_update, size) = plan
    base = fp if dst_fp else ap
    if base.offset + off0 < 0:
        return False
    dst_address = address(base.segment_index, base.offset + off0)
    base = fp if op0_fp else ap
    if base.offset + off1 < 0:
        return False
    op0_address = address(base.segment_index, base.offset + off1)
    data = memory.data
    dst = data.get(dst_address)
    op0 = data.get(op0_address)
    if op1_addr is OP1_IMM:
        base = pc
    elif op1_addr is OP1_FP:
        base = fp
    elif op1_addr is OP1_AP:
        base = ap
    else:
        base = op0
        if type(base) is not Relocatable:
            return False
    if base.offset + off2 < 0:
        return False
    op1_address = address(base.segment_index, base.offset + off2)
    op1 = data.get(op1_address)
    new_dst, new_op0, new_op1 = dst is None, op0 is None, op1 is None
    prime = vm.prime
    auto_deduction = vm.auto_deduction
    try:
        res = None
        if new_op0:
            if op0_address.segment_index in auto_deduction:
                return False
            if opcode is CALL:
                op0 = address(pc.segment_index, pc.offset + size)
            elif opcode is ASSERT_EQ and res_kind is RES_ADD and not new_dst and not new_op1:
                op0, res = (dst - op1) % prime, dst
            else:
                return False
        if new_op1:
            if op1_address.segment_index in auto_deduction or opcode is not ASSERT_EQ or new_dst:
                return False
            if res_kind is RES_OP1:
                op1, res = dst, dst
            elif res_kind is RES_ADD:
                op1, res = (dst - op0) % prime, dst
            else:
                return False
        if res is None:
            if res_kind is RES_OP1:
                res = op1
            elif res_kind is RES_ADD:
                res = (op0 + op1) % prime
            elif res_kind is RES_MUL:
                if type(op0) is not int or type(op1) is not int:
                    return False
                res = op0 * op1 % prime
        if new_dst:
            if opcode is ASSERT_EQ and res is not None:
                dst = res
            elif opcode is CALL:
                dst = fp
            else:
                return False
        if opcode is ASSERT_EQ and (res is None or dst != res):
            return False
        if opcode is CALL and (op0 != address(pc.segment_index, pc.offset + size) or dst != fp):
            return False
        if fp_update is FP_AP_PLUS2:
            new_fp = ap + 2
        elif fp_update is FP_DST:
            new_fp = dst
        else:
            new_fp = fp
        if ap_update is AP_ADD:
            if res is None:
                return False
            new_ap = (ap + res % prime) % prime
        elif ap_update is AP_ADD1:
            new_ap = address(ap.segment_index, ap.offset + 1)
        elif ap_update is AP_ADD2:
            new_ap = address(ap.segment_index, ap.offset + 2)
        else:
            new_ap = ap
        if pc_update is PC_REGULAR:
            new_pc = address(pc.segment_index, pc.offset + size)
        elif pc_update is PC_JUMP:
            if res is None:
                return False
            new_pc = res % prime
        elif pc_update is PC_JUMP_REL:
            if type(res) is not int:
                return False
            new_pc = (pc + res) % prime
        elif type(dst) is int and dst == 0:
            new_pc = address(pc.segment_index, pc.offset + size)
        elif (type(dst) is int or (type(dst) is Relocatable and dst.offset >= 0)) \
                and type(op1) is int:
            new_pc = (pc + op1) % prime
        else:
            return False
    except Exception:  # cairo-lang's step raises the same error, in its own words
        return False
    validated = vm.validated_memory
    try:
        if new_dst:
            validated[dst_address] = dst
        if new_op0:
            validated[op0_address] = op0
        if new_op1:
            validated[op1_address] = op1
    except Exception as exc:
        raise vm.as_vm_exception(exc) from None
    trace = vm._trace
    if trace is not None:
        trace.append(TraceEntry(pc=pc, ap=ap, fp=fp))
    accessed = vm.accessed_addresses  # it holds every program address (pc) from the start
    accessed.add(dst_address)
    accessed.add(op0_address)
    accessed.add(op1_address)
    context.fp, context.ap, context.pc = new_fp, new_ap, new_pc
    vm.current_step += 1
    return True
