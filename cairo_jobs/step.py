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
OP1_IMM, OP1_AP, OP1_FP = (Instruction.Op1Addr.IMM, Instruction.Op1Addr.AP,
                           Instruction.Op1Addr.FP)
RES_OP1, RES_ADD, RES_MUL = Instruction.Res.OP1, Instruction.Res.ADD, Instruction.Res.MUL
PC_REGULAR, PC_JUMP, PC_JUMP_REL = (
    Instruction.PcUpdate.REGULAR, Instruction.PcUpdate.JUMP, Instruction.PcUpdate.JUMP_REL)
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
    read = _read_operands(plan, pc, ap, fp, memory.data)
    if read is None:
        return False
    dst_address, op0_address, op1_address, dst, op0, op1 = read
    new_dst, new_op0, new_op1 = dst is None, op0 is None, op1 is None
    auto_deduction = vm.auto_deduction
    if (new_op0 and op0_address.segment_index in auto_deduction) or (
            new_op1 and op1_address.segment_index in auto_deduction):
        return False  # cairo-lang's step runs the builtin's deduction rule
    prime = vm.prime
    try:
        operands = _deduce(plan, pc, fp, dst, op0, op1, prime)
        if operands is None:
            return False
        dst, op0, op1, res = operands
        registers = _next_registers(plan, pc, ap, fp, dst, op1, res, prime)
    except Exception:  # cairo-lang's step raises the same error, in its own words
        return False
    if registers is None:
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
    context.fp, context.ap, context.pc = registers
    vm.current_step += 1
    return True


def _read_operands(plan: Plan, pc: Any, ap: Any, fp: Any, data: dict[Any, Any]) -> Any:
    """(dst, op0, op1 addresses, then their values or None); None if an address is not a plain
    non-negative one."""
    base = fp if plan.dst_fp else ap
    if base.offset + plan.off0 < 0:
        return None
    dst_address = address(base.segment_index, base.offset + plan.off0)
    base = fp if plan.op0_fp else ap
    if base.offset + plan.off1 < 0:
        return None
    op0_address = address(base.segment_index, base.offset + plan.off1)
    op0 = data.get(op0_address)
    op1_addr = plan.op1_addr
    if op1_addr is OP1_IMM:
        base = pc
    elif op1_addr is OP1_FP:
        base = fp
    elif op1_addr is OP1_AP:
        base = ap
    else:
        base = op0
        if type(base) is not Relocatable:
            return None
    if base.offset + plan.off2 < 0:
        return None
    op1_address = address(base.segment_index, base.offset + plan.off2)
    return (dst_address, op0_address, op1_address, data.get(dst_address), op0,
            data.get(op1_address))


def _deduce(plan: Plan, pc: Any, fp: Any, dst: Any, op0: Any, op1: Any, prime: int) -> Any:
    """(dst, op0, op1, res) with the unknown operands deduced as `compute_operands` does and
    the opcode's assertions checked; None if the stock step must decide."""
    opcode, res_kind = plan.opcode, plan.res
    res = None
    if op0 is None:
        if opcode is CALL:
            op0 = address(pc.segment_index, pc.offset + plan.size)
        elif opcode is ASSERT_EQ and res_kind is RES_ADD and dst is not None and op1 is not None:
            op0, res = (dst - op1) % prime, dst
        else:
            return None
    if op1 is None:
        if opcode is not ASSERT_EQ or dst is None:
            return None
        if res_kind is RES_OP1:
            op1, res = dst, dst
        elif res_kind is RES_ADD:
            op1, res = (dst - op0) % prime, dst
        else:
            return None
    if res is None:
        if res_kind is RES_OP1:
            res = op1
        elif res_kind is RES_ADD:
            res = (op0 + op1) % prime
        elif res_kind is RES_MUL:
            if type(op0) is not int or type(op1) is not int:
                return None
            res = op0 * op1 % prime
    if dst is None:
        if opcode is ASSERT_EQ and res is not None:
            dst = res
        elif opcode is CALL:
            dst = fp
        else:
            return None
    if opcode is ASSERT_EQ and (res is None or dst != res):
        return None
    if opcode is CALL and (op0 != address(pc.segment_index, pc.offset + plan.size) or dst != fp):
        return None
    return dst, op0, op1, res


def _next_registers(plan: Plan, pc: Any, ap: Any, fp: Any, dst: Any, op1: Any, res: Any,
                    prime: int) -> tuple[Any, Any, Any] | None:
    """(fp, ap, pc) after the instruction, as `update_registers` sets them; None if the stock
    step must decide."""
    fp_update, ap_update, pc_update = plan.fp_update, plan.ap_update, plan.pc_update
    if fp_update is FP_AP_PLUS2:
        new_fp = ap + 2
    elif fp_update is FP_DST:
        new_fp = dst
    else:
        new_fp = fp
    if ap_update is AP_ADD:
        if res is None:
            return None
        new_ap = (ap + res % prime) % prime
    elif ap_update is AP_ADD1:
        new_ap = address(ap.segment_index, ap.offset + 1)
    elif ap_update is AP_ADD2:
        new_ap = address(ap.segment_index, ap.offset + 2)
    else:
        new_ap = ap
    if pc_update is PC_REGULAR:
        new_pc = address(pc.segment_index, pc.offset + plan.size)
    elif pc_update is PC_JUMP:
        if res is None:
            return None
        new_pc = res % prime
    elif pc_update is PC_JUMP_REL:
        if type(res) is not int:
            return None
        new_pc = (pc + res) % prime
    elif type(dst) is int and dst == 0:  # jnz not taken
        new_pc = address(pc.segment_index, pc.offset + plan.size)
    elif (type(dst) is int or (type(dst) is Relocatable and dst.offset >= 0)) \
            and type(op1) is int:
        new_pc = (pc + op1) % prime
    else:
        return None
    return new_fp, new_ap, new_pc
