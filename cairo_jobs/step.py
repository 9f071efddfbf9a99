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
operand that cannot be deduced, a failing assertion) returns False before any side effect:
cairo-lang's own step then runs the instruction and raises its own error. The one side effect
before that point is the stock step's own first one: an unknown operand in a builtin's segment
goes to the builtin's deduction rules, which write what they deduce (a rule keeps state, so it
runs once). The instruction trace (proof mode) gets the same entries.

A plan also holds what never changes for its address: the next pc (one shared object) and the
immediate. The immediate's address (pc + 1, a program cell) is left out of the accessed set,
which holds every program address from the start. Deduced cells of segments without validation
rules are written straight into the memory's dict with `MemoryDict`'s checks (reduced value,
same value if the cell is already set); other cells go through the validated memory.

`step_planned` plans the hint-free instructions of a program as a run reaches them; a caller
keeps the plans between runs of the same program at the same address. `run_until` is the run
loop around it. Used by the devnet (`devnet.runner`) and the job runner (`cairo_jobs.vm`);
`tests/devnet/test_step.py`, `tests/devnet/test_runner.py` and `tests/cairo_jobs/test_step.py`
compare with the stock VM.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from typing import Any, NamedTuple

from starkware.cairo.lang.compiler.instruction import Instruction, Register
from starkware.cairo.lang.vm.memory_dict import InconsistentMemoryError, MemoryDict
from starkware.cairo.lang.vm.relocatable import RelocatableValue
from starkware.cairo.lang.vm.trace_entry import TraceEntry
from starkware.cairo.lang.vm.utils import RunResources

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


MAX_INTERNED_SLOTS = 1 << 17  # ~200 bytes each when filled (~26 MB), then they start anew
MAX_INTERNED_OFFSET = 1 << 16
_interned: dict[int, list[Any]] = {}  # segment -> [address or None, by offset]
_interned_slots = 0


def address(segment: int, offset: int) -> RelocatableValue:
    """`RelocatableValue(segment, offset)`, one shared object per address (offsets below
    `MAX_INTERNED_OFFSET`): a dict or set that holds it as a key then finds it by identity,
    without the dataclass's `__eq__` (a Python call). Built without the frozen dataclass's
    `__init__` (twice as fast): the same fields, equality and hash."""
    global _interned_slots
    row = _interned.get(segment)
    if row is not None and 0 <= offset < len(row):
        value = row[offset]
        if value is not None:
            return value
    value = _new(Relocatable)
    fields = value.__dict__
    fields["segment_index"] = segment
    fields["offset"] = offset
    if not 0 <= offset < MAX_INTERNED_OFFSET:
        return value
    if row is None:
        row = _interned[segment] = []
    if offset >= len(row):
        if _interned_slots >= MAX_INTERNED_SLOTS:
            _interned.clear()
            _interned_slots = 0
            row = _interned[segment] = []
        _interned_slots += offset + 1 - len(row)
        row.extend([None] * (offset + 1 - len(row)))
    row[offset] = value
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
    next_pc: RelocatableValue  # pc + size
    immediate: Any  # the word at pc + 1 for an immediate op1, else None


def plan_of(instruction: Instruction, pc: RelocatableValue, data: dict[Any, Any]) -> Plan | None:
    """The plan of `instruction` at `pc` (`data`: the memory's cells); None for one the stock step
    must run (a malformed or missing immediate)."""
    immediate = None
    if instruction.op1_addr is OP1_IMM:
        immediate = data.get(address(pc.segment_index, pc.offset + 1))
        if instruction.off2 != 1 or immediate is None:
            return None
    return Plan(instruction.dst_register is FP, instruction.off0,
                instruction.op0_register is FP, instruction.off1, instruction.op1_addr,
                instruction.off2, instruction.res, instruction.opcode, instruction.pc_update,
                instruction.ap_update, instruction.fp_update, instruction.size,
                address(pc.segment_index, pc.offset + instruction.size), immediate)


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
        if pc in vm.hints:
            return False
        plan = _new_plan(vm, plans, program, pc, None)
        if plan is None:
            return False
    return run_plain(vm, plan)


def run_instruction_planned(vm: Any, plans: dict[Any, Plan], program: Container[Any],
                            instruction: Instruction) -> bool:
    """Run `instruction`, decoded at `vm`'s pc once its hints ran, on the short path as
    `step_planned` does (`plans`: for hinted addresses, kept apart from `step_planned`'s)."""
    pc = vm.run_context.pc
    plan = plans.get(pc) or _new_plan(vm, plans, program, pc, instruction)
    return plan is not None and run_plain(vm, plan)


def _new_plan(vm: Any, plans: dict[Any, Plan], program: Container[Any], pc: Any,
              instruction: Instruction | None) -> Plan | None:
    """The plan of the instruction at `pc` (decoded if not given), kept in `plans`; None if
    it is not an instruction of `program` the short path runs."""
    if pc not in program or pc + 1 not in program:
        return None
    plan = plan_of(instruction or vm.decode_current_instruction(), pc, vm.run_context.memory.data)
    if plan is not None:
        plans[address(pc.segment_index, pc.offset)] = plan
    return plan


def run_until(vm: Any, plans: dict[Any, Plan], program: Container[Any], segment: int | None,
              end: Any, resources: RunResources, stock_step: Callable[[], None]) -> None:
    """Step `vm` until its pc is `end` or `resources` are used up, as cairo-lang's
    `run_until_pc` loop does: planned steps (`step_planned`) where they apply, `stock_step`
    otherwise. `program`'s addresses are in `segment`; `end` must not be one of them (the
    stock step checks the program's end)."""
    context = vm.run_context
    # Only a pc outside the program's segment can be `end`: compare the segment first.
    end_segment = end.segment_index if type(end) is Relocatable else None
    assert end_segment is None or end_segment != segment, "the end must be outside the program"
    while True:
        pc = context.pc
        if (type(pc) is not Relocatable or pc.segment_index == end_segment) and pc == end:
            return
        n_steps = resources.n_steps
        if n_steps is not None and n_steps <= 0:
            return
        if type(pc) is not Relocatable or pc.segment_index != segment \
                or not step_planned(vm, plans, program):
            stock_step()
        if resources.n_steps is not None:
            resources.n_steps -= 1


def run_plain(vm: Any, plan: Plan) -> bool:
    """Run the program instruction at `vm`'s pc as cairo-lang's step would; False (with nothing
    changed) if it is not a case handled here."""
    context = vm.run_context
    pc, ap, fp = context.pc, context.ap, context.fp
    memory = context.memory
    if (memory.relocation_rules or type(pc) is not Relocatable or type(ap) is not Relocatable
            or type(fp) is not Relocatable):
        return False
    data = memory.data
    read = _read_operands(plan, pc, ap, fp, data)
    if read is None:
        return False
    dst_address, op0_address, op1_address, dst, op0, op1 = read
    auto_deduction = vm.auto_deduction
    if op0 is None and op0_address.segment_index in auto_deduction:
        op0 = _deduce_cell(vm, op0_address)
    if op1 is None and op1_address is not None and op1_address.segment_index in auto_deduction:
        op1 = _deduce_cell(vm, op1_address)
    if op0 is False or op1 is False:
        return False
    new_dst, new_op0, new_op1 = dst is None, op0 is None, op1 is None
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
    if new_dst or new_op0 or new_op1:
        validated = vm.validated_memory
        rules = (validated._ValidatedMemoryDict__validation_rules
                 if type(memory) is MemoryDict and not memory._frozen else None)
        try:
            if new_dst:
                _write(validated, rules, data, dst_address, dst, prime)
            if new_op0:
                _write(validated, rules, data, op0_address, op0, prime)
            if new_op1:
                _write(validated, rules, data, op1_address, op1, prime)
        except Exception as exc:
            raise vm.as_vm_exception(exc) from None
    trace = vm._trace
    if trace is not None:
        trace.append(TraceEntry(pc=pc, ap=ap, fp=fp))
    # It holds every program address from the start: pc and an immediate's address.
    accessed = vm.accessed_addresses
    accessed.add(dst_address)
    accessed.add(op0_address)
    if op1_address is not None:
        accessed.add(op1_address)
    context.fp, context.ap, context.pc = registers
    vm.current_step += 1
    return True


def _deduce_cell(vm: Any, address: RelocatableValue) -> Any:
    """What the builtin rules of `address`'s segment deduce for it, written into memory as the
    stock step writes it (None if no rule does); False if a rule raised (the stock step then
    raises it: a rule checks its inputs before it changes anything)."""
    try:
        return vm.deduce_memory_cell(address)
    except Exception:
        return False


def _write(validated: Any, rules: dict[int, Any] | None, data: dict[Any, Any],
           address: RelocatableValue, value: Any, prime: int) -> None:
    """`validated[address] = value`; straight into `data`, with the same checks, when `rules`
    (the validation rules of a writable `MemoryDict`, else None) has none for the segment."""
    if rules is None or address.segment_index in rules:
        validated[address] = value
        return
    if type(value) is int:
        value %= prime
    elif not 0 <= value.offset < prime:
        value = value % prime
    current = data.setdefault(address, value)
    if current is not value and current != value:
        raise InconsistentMemoryError(address, current, value)


def _read_operands(plan: Plan, pc: Any, ap: Any, fp: Any, data: dict[Any, Any]) -> Any:
    """(dst, op0, op1 addresses, then their values or None); None if an address is not a plain
    non-negative one. An immediate's address is None (its value is the plan's)."""
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
        return dst_address, op0_address, None, data.get(dst_address), op0, plan.immediate
    if op1_addr is OP1_FP:
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
            op0 = plan.next_pc
        elif opcode is ASSERT_EQ and res_kind is RES_ADD and dst is not None and op1 is not None:
            op0, res = (dst - op1) % prime, dst
        elif opcode is ASSERT_EQ and res_kind is RES_MUL and type(dst) is int \
                and type(op1) is int and op1 != 0:
            op0, res = dst * pow(op1, -1, prime) % prime, dst  # `div_mod`
        else:
            return None
    if op1 is None:
        if opcode is not ASSERT_EQ or dst is None:
            return None
        if res_kind is RES_OP1:
            op1, res = dst, dst
        elif res_kind is RES_ADD:
            op1, res = (dst - op0) % prime, dst
        elif res_kind is RES_MUL and type(dst) is int and type(op0) is int and op0 != 0:
            op1, res = dst * pow(op0, -1, prime) % prime, dst
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
    if opcode is CALL and (op0 != plan.next_pc or dst != fp):
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
        new_pc = plan.next_pc
    elif pc_update is PC_JUMP:
        if res is None:
            return None
        new_pc = res % prime
    elif pc_update is PC_JUMP_REL:
        if type(res) is not int:
            return None
        new_pc = (pc + res) % prime
    elif type(dst) is int and dst == 0:  # jnz not taken
        new_pc = plan.next_pc
    elif (type(dst) is int or (type(dst) is Relocatable and dst.offset >= 0)) \
            and type(op1) is int:
        new_pc = (pc + op1) % prime
    else:
        return None
    return new_fp, new_ap, new_pc
