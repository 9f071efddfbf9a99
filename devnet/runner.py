"""cairo-lang's function runner with the program's share of each run's set-up done once per class.

Every entry-point run builds a fresh runner and VM, and stock cairo-lang then handles the class's
whole bytecode (3,000-5,000 words here) word by word, several times per run: it writes each word
into memory, builds the set of their addresses, compiles every hint, and after the run walks all
cells again to validate builtin cells, verify auto-deductions, size the segments, relocate the
accessed addresses and count memory holes. Profiled, that cost about as much as the Cairo steps.

`DevnetRunner` does the same work with per-program caches:
- the program's cells ({address: word}) are built once per bytecode list and copied into memory
  with one dict update; the VM's accessed-address set starts as a copy of their addresses;
- hint code is compiled once per (source, file name): the name carries the hint id, so the code
  objects (and tracebacks) are those a fresh compilation gives; a class's hints (Cairo 1: no
  identifiers or references to resolve) are loaded once per base address and shared by later
  VMs; instructions are decoded once per program address (with their immediate: the program's
  memory is write-once);
- hint-free program instructions run through the short step of `cairo_jobs.step`, from a loop
  without cairo-lang's per-step calls (anything unusual goes to cairo-lang's step);
- passes over the whole memory (builtin validation rules, auto-deduction checks, segment sizes)
  leave out the program's cells, found by their place in the memory's insertion order: no rule
  covers the program segment (asserted), and its size is kept by its last cell;
- with no relocation rule (the devnet's runs) every accessed address relocates to itself: the
  set is copied, not rebuilt address by address; segment sizes and memory holes are counted in
  one loop each (`used_sizes`, `memory_holes`), holes without the program cells, which are all
  accessed, so the counts are unchanged;
- no instruction trace is recorded (only proofs read it), and operand reads skip the validated
  memory proxy's `__getattr__`.
Return values, gas, events and execution resources (memory holes included) are the stock
runner's; `tests/devnet/test_runner.py` runs both on the same calls and compares.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import CodeType
from typing import Any

from starkware.cairo.common.cairo_function_runner import CairoFunctionRunner
from starkware.cairo.lang.compiler.instruction import Instruction
from starkware.cairo.lang.vm.memory_segments import MemorySegmentManager
from starkware.cairo.lang.vm.relocatable import MaybeRelocatable, RelocatableValue
from starkware.cairo.lang.vm.utils import ResourcesError, RunResources
from starkware.cairo.lang.vm.virtual_machine_base import CompiledHint, VirtualMachineBase
from starkware.cairo.lang.vm.vm_core import VirtualMachine
from starkware.cairo.lang.vm.vm_exceptions import SecurityError

from cairo_jobs.step import Plan, run_instruction_planned, run_until

MAX_CACHED_PROGRAMS = 64
MAX_CACHED_HINTS = 20_000


@dataclass(frozen=True)
class ProgramCells:
    """A program's words keyed by their address once loaded at a base address."""

    data: Sequence[MaybeRelocatable]  # held so that its id() stays this program's
    cells: dict[MaybeRelocatable, MaybeRelocatable]
    addresses: frozenset[MaybeRelocatable]
    instructions: dict[MaybeRelocatable, Instruction] = field(default_factory=dict)
    # Step plans of hint-free instructions, per set of hinted addresses (one per program).
    plans: dict[frozenset[MaybeRelocatable], dict[MaybeRelocatable, Plan]] = field(
        default_factory=dict)
    # Plans of instructions run after their hints (`DevnetVM.run_instruction`).
    plans_after_hints: dict[MaybeRelocatable, Plan] = field(default_factory=dict)

    @property
    def segment(self) -> int | None:
        first = next(iter(self.cells), None)
        return first.segment_index if isinstance(first, RelocatableValue) else None


@dataclass(frozen=True)
class LoadedHints:
    """What `load_hints` made of a program's hints as the first program of a VM."""

    source: Any  # the program's hint mapping, held so that its id() stays this program's
    hints: dict[MaybeRelocatable, list[CompiledHint]]
    pc_and_index: dict[int, tuple[MaybeRelocatable, int]]


_programs: dict[tuple[int, MaybeRelocatable], ProgramCells] = {}
_hints: dict[tuple[str, str], CodeType] = {}
_loaded_hints: dict[tuple[int, MaybeRelocatable], LoadedHints] = {}


def program_cells(data: Sequence[MaybeRelocatable], base: MaybeRelocatable) -> ProgramCells:
    """The cells of `data` loaded at `base`, cached per bytecode list (a class keeps its list)."""
    key = (id(data), base)
    entry = _programs.get(key)
    if entry is None or entry.data is not data:
        if len(_programs) >= MAX_CACHED_PROGRAMS:
            _programs.clear()
        cells = {base + offset: word for offset, word in enumerate(data)}
        entry = _programs[key] = ProgramCells(data, cells, frozenset(cells))
    return entry


@dataclass(frozen=True)
class LoadedProgram:
    """A program's cells as loaded into a memory dict, from position `start` of its order."""

    program: ProgramCells
    data: dict[MaybeRelocatable, MaybeRelocatable]
    start: int

    def addresses_outside(self, memory: Any, keep_last: bool = False) -> list[MaybeRelocatable]:
        """`memory`'s addresses in memory order without the program's cells (but the last one
        if `keep_last`); all of them if the cells are no longer where they were loaded."""
        keys = list(memory.data)
        cells = self.program.cells
        end = self.start + len(cells)
        if (not cells or memory.data is not self.data or len(keys) < end
                or keys[self.start] is not next(iter(cells))
                or keys[end - 1] is not next(reversed(cells))):
            return keys
        return keys[:self.start] + (keys[end - 1:end] if keep_last else []) + keys[end:]


class DevnetVM(VirtualMachine):
    """The VM with cached program addresses and hints, program-free memory passes, and the
    short step path of `cairo_jobs.step` (`short_steps` False: cairo-lang's step, to compare)."""

    short_steps = True

    def __init__(self, program: Any, run_context: Any, hint_locals: dict[str, Any],
                 static_locals: dict[str, Any] | None = None,
                 builtin_runners: dict[str, Any] | None = None,
                 program_base: MaybeRelocatable | None = None,
                 enable_instruction_trace: bool = True,
                 loaded: LoadedProgram | None = None) -> None:
        # VirtualMachine.__init__ without its per-word set of program addresses.
        self.run_context = copy.copy(run_context)
        if program_base is None:
            program_base = run_context.pc
        self.loaded = loaded
        VirtualMachineBase.__init__(
            self, program=program, run_context=self.run_context, hint_locals=hint_locals,
            static_locals=static_locals, builtin_runners=builtin_runners or {},
            program_base=program_base)
        self.program_cells = program_cells(program.data, program_base)
        self.accessed_addresses = set(self.program_cells.addresses)
        # Operand reads (3 a step) reach the memory's own `get` directly: the proxy's
        # `__getattr__` looked it up and returned that same method each time.
        self.validated_memory.get = self.run_context.memory.get
        self._trace = [] if enable_instruction_trace else None
        self.current_step = 0
        self.skip_instruction_execution = False
        self.enable_instruction_trace = enable_instruction_trace
        self.ecdsa_additional_data: dict[Any, Any] = {}
        self.plans: dict[MaybeRelocatable, Plan] = self.program_cells.plans.setdefault(
            frozenset(self.hints), {})

    def load_hints(self, program: Any, program_base: MaybeRelocatable) -> None:
        # A class's program (Cairo 1: no identifiers, no references) gives the same hints at
        # the same base each run: reuse what the first VM made of them.
        if self.hint_pc_and_index or program.identifiers.as_dict() \
                or program.reference_manager.references:
            super().load_hints(program, program_base)
            return
        key = (id(program.hints), program_base)
        entry = _loaded_hints.get(key)
        if entry is None or entry.source is not program.hints:
            super().load_hints(program, program_base)
            if len(_loaded_hints) >= MAX_CACHED_PROGRAMS:
                _loaded_hints.clear()
            entry = _loaded_hints[key] = LoadedHints(
                program.hints, dict(self.hints), dict(self.hint_pc_and_index))
            return
        self.hints.update(entry.hints)
        self.hint_pc_and_index.update(entry.pc_and_index)

    def compile_hint(self, source: str, filename: str, hint_index: int,
                     pc: MaybeRelocatable) -> CodeType:
        key = (source, filename)
        code = _hints.get(key)
        if code is None:
            code = super().compile_hint(source, filename, hint_index=hint_index, pc=pc)
            if len(_hints) >= MAX_CACHED_HINTS:
                _hints.clear()
            _hints[key] = code
        return code

    def decode_current_instruction(self) -> Instruction:
        # An instruction and its immediate inside the program never change (write-once memory).
        pc = self.run_context.pc
        instruction = self.program_cells.instructions.get(pc)
        if instruction is None:
            instruction = super().decode_current_instruction()
            cells = self.program_cells.cells
            if pc in cells and pc + 1 in cells:
                self.program_cells.instructions[pc] = instruction
        return instruction

    def run_instruction(self, instruction: Instruction) -> None:
        # Instructions with hints come here from cairo-lang's step once their hints ran.
        if not self.short_steps or not run_instruction_planned(
                self, self.program_cells.plans_after_hints, self.program_cells.cells,
                instruction):
            super().run_instruction(instruction)

    def _addresses_for_rules(self) -> list[MaybeRelocatable]:
        """Memory addresses in memory order, less the program's cells, which no rule covers."""
        memory = self.run_context.memory
        if self.loaded is None:
            return list(memory.data)
        segment = self.loaded.program.segment
        rules = self.validated_memory._ValidatedMemoryDict__validation_rules  # type: ignore[attr-defined]
        assert segment not in rules and segment not in self.auto_deduction, \
            "a memory rule covers the program segment: run with cairo-lang's runner"
        return self.loaded.addresses_outside(memory)

    def validate_existing_memory(self) -> None:
        data = self.run_context.memory.data
        for addr in self._addresses_for_rules():
            self.validated_memory._validate_memory_cell(addr, data[addr])

    def verify_auto_deductions(self) -> None:
        # Only cells of segments with a rule have anything to verify.
        rules = self.auto_deduction
        for addr in self._addresses_for_rules():
            if isinstance(addr, RelocatableValue) and addr.segment_index in rules:
                self.verify_auto_deductions_for_addr(addr)


def used_sizes(addresses: Iterable[MaybeRelocatable], indices: range) -> dict[int, int]:
    """{segment: its highest offset in `addresses` + 1, or 0} for the segments `indices`, as
    `MemorySegmentManager.compute_effective_sizes` finds them (same errors), in one loop."""
    sizes = dict.fromkeys(indices, 0)
    for addr in addresses:
        if type(addr) is not RelocatableValue and not isinstance(addr, RelocatableValue):
            raise SecurityError(f"Expected memory address to be relocatable value. Found: {addr}.")
        end = addr.offset + 1
        if sizes[addr.segment_index] < end:
            sizes[addr.segment_index] = end
    return sizes


def memory_holes(segments: MemorySegmentManager, accessed: set[MaybeRelocatable]) -> int:
    """`segments.get_memory_holes(accessed)`: each segment's size less its accessed offsets,
    counted in one loop; cairo-lang's method (and its error) for an address it would refuse."""
    sizes = {index: segments.get_segment_size(index)
             for index in segments._segment_sizes.keys() | segments._segment_used_sizes.keys()}
    counts = dict.fromkeys(sizes, 0)
    for addr in accessed:  # distinct addresses: one offset each
        if type(addr) is not RelocatableValue:
            return segments.get_memory_holes(accessed)
        index, offset = addr.segment_index, addr.offset
        if offset < 0 or index not in sizes or offset > sizes[index]:
            return segments.get_memory_holes(accessed)
        counts[index] += 1
    return sum(size - counts[index] for index, size in sizes.items())


class DevnetRunner(CairoFunctionRunner):
    """`CairoFunctionRunner` using `DevnetVM`, loading cached program cells, without a trace.

    `adopt` turns a runner cairo-lang built (not yet run) into one.
    """

    program_cells: ProgramCells
    loaded: LoadedProgram | None = None

    @classmethod
    def adopt(cls, runner: CairoFunctionRunner) -> DevnetRunner:
        runner.__class__ = cls
        runner.enable_instruction_trace = False
        return runner  # type: ignore[return-value]

    def initialize_state(self, entrypoint: str | int, stack: Sequence[MaybeRelocatable]) -> None:
        self.initial_pc = self.program_base + self._to_pc(entrypoint)
        self.program_cells = program_cells(self.program.data, self.program_base)
        data = self.memory.data
        # Both views: the check walks the smaller one (the memory, nearly empty here).
        cells = self.program_cells.cells.keys()
        if self.memory.relocation_rules or not data.keys().isdisjoint(cells):
            self.load_data(self.program_base, self.program.data)  # the checked word-by-word path
        else:
            self.loaded = LoadedProgram(self.program_cells, data, len(data))
            data.update(self.program_cells.cells)
        self.load_data(self.execution_base, stack)

    def initialize_vm(self, hint_locals: dict[str, Any],
                      static_locals: dict[str, Any] | None = None, vm_class: Any = None) -> None:
        vm_class = vm_class or functools.partial(DevnetVM, loaded=self.loaded)
        super().initialize_vm(hint_locals, static_locals, vm_class=vm_class)

    def run_until_pc(self, addr: MaybeRelocatable,
                     run_resources: RunResources | None = None) -> None:
        """cairo-lang's loop, with planned instructions run without its per-step calls
        (`cairo_jobs.step.run_until`)."""
        vm = self.vm
        resources = RunResources(n_steps=None) if run_resources is None else run_resources
        segment = self.program_cells.segment
        if vm.short_steps and not any(type(pc) is RelocatableValue and pc.segment_index == segment
                                      for pc in (addr, self.final_pc)):
            run_until(vm, vm.plans, self.program_cells.cells, segment, addr, resources,
                      self.vm_step)
        else:  # an end inside the program: cairo-lang's step checks it
            while vm.run_context.pc != addr and not resources.consumed:
                self.vm_step()
                resources.consume_step()
        if vm.run_context.pc != addr:
            raise vm.as_vm_exception(
                ResourcesError("Error: End of program was not reached"), with_traceback=False)

    def end_run(self, disable_trace_padding: bool = True, disable_finalize_all: bool = False,
                allow_tmp_segments: bool = False) -> None:
        # Without relocation rules every address relocates to itself: the accessed set is copied
        # (its members keep their hashes) rather than rebuilt address by address.
        if (self.memory.relocation_rules or self.loaded is None or self.proof_mode
                or disable_finalize_all):
            super().end_run(disable_trace_padding, disable_finalize_all, allow_tmp_segments)
            return
        assert not self._run_ended, "end_run called twice."
        self.accessed_addresses = set(self.vm.accessed_addresses)
        self.vm.end_run()
        self.vm_memory.freeze()
        segments = self.segments
        if segments._segment_used_sizes is None:
            first = -segments.n_temp_segments if allow_tmp_segments else 0
            segments._segment_used_sizes = used_sizes(
                self.loaded.addresses_outside(self.memory, keep_last=True),
                range(first, segments.n_segments))
        self._run_ended = True

    def get_memory_holes(self) -> int:
        # Every program cell is accessed: count holes over the other addresses, then take the
        # program's cells off its segment's size.
        accessed = self.accessed_addresses - self.program_cells.addresses
        accessed.update(addr for builtin_runner in self.builtin_runners.values()
                        for addr in builtin_runner.get_memory_accesses(self))
        zero_segment = self.segments.zero_segment
        if zero_segment is not None:
            accessed.update(zero_segment + i for i in range(self.segments.zero_segment_size))
        return memory_holes(self.segments, accessed) - len(self.program_cells.addresses)
