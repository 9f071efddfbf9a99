"""Field formulas compiled to straight-line programs and evaluated point by point in one kernel.

An AIR formula (+ − × over inputs and integer constants, see `air`) runs once on `Symbol`s,
which record each operation as an instruction on numbered registers (equal subexpressions are
recorded once). `Program.evaluate` then runs the instructions for every point of a domain in a
compiled loop, reading each input from its array: no array temporary per operation, so a
formula of k operations costs k products or sums per point instead of k passes over memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np
from numba.typed import List

from cairo_jobs.native import field
from cairo_jobs.native.field import CHUNK, LIMBS, P

ADD, SUB, MUL = 0, 1, 2


class Recorder:
    """The registers, constants and instructions of one program being recorded."""

    def __init__(self) -> None:
        self.n_registers = 0
        self.inputs: list[tuple[int, int, int]] = []  # (register, step, shift) per input
        self.constants: dict[int, int] = {}  # value → register
        self.instructions: list[tuple[int, int, int, int]] = []  # (op, out, x, y)
        self._known: dict[tuple[int, int, int], int] = {}  # (op, x, y) → register

    def _register(self) -> int:
        self.n_registers += 1
        return self.n_registers - 1

    def input(self, step: int = 1, shift: int = 0) -> Symbol:
        """The next input: point i reads element (i·step + shift) mod length of its array."""
        register = self._register()
        self.inputs.append((register, step, shift))
        return Symbol(self, register)

    def constant(self, value: int) -> Symbol:
        value %= P
        if value not in self.constants:
            self.constants[value] = self._register()
        return Symbol(self, self.constants[value])

    def operation(self, op: int, x: int, y: int) -> Symbol:
        key = (op, *sorted((x, y))) if op != SUB else (op, x, y)
        if key not in self._known:
            self._known[key] = self._register()
            self.instructions.append((op, self._known[key], x, y))
        return Symbol(self, self._known[key])

    def program(self, result: Symbol) -> Program:
        """The recorded instructions, returning `result`."""
        constants = sorted(self.constants.items(), key=lambda item: item[1])
        return Program(
            n_registers=self.n_registers,
            inputs=np.array(self.inputs, dtype=np.int64).reshape(-1, 3),
            constant_registers=np.array([r for _, r in constants], dtype=np.int64),
            constant_values=field.from_ints(v for v, _ in constants),
            instructions=np.array(self.instructions, dtype=np.int64).reshape(-1, 4),
            result=result.register,
        )


class Symbol:
    """A value in a recorded program; + − × with other symbols or with ints."""

    __slots__ = ("recorder", "register")

    def __init__(self, recorder: Recorder, register: int) -> None:
        self.recorder = recorder
        self.register = register

    def _operand(self, other: Symbol | int) -> Symbol:
        return other if isinstance(other, Symbol) else self.recorder.constant(other)

    def _is(self, value: int) -> bool:
        return self.recorder.constants.get(value % P) == self.register

    def __add__(self, other: Symbol | int) -> Symbol:
        other = self._operand(other)
        if other._is(0):
            return self
        return self.recorder.operation(ADD, self.register, other.register)

    __radd__ = __add__

    def __sub__(self, other: Symbol | int) -> Symbol:
        other = self._operand(other)
        if other._is(0):
            return self
        return self.recorder.operation(SUB, self.register, other.register)

    def __rsub__(self, other: Symbol | int) -> Symbol:
        return self._operand(other) - self

    def __mul__(self, other: Symbol | int) -> Symbol:
        other = self._operand(other)
        if other._is(0) or self._is(0):
            return self.recorder.constant(0)
        if other._is(1):
            return self
        if self._is(1):
            return other
        return self.recorder.operation(MUL, self.register, other.register)

    __rmul__ = __mul__

    def __neg__(self) -> Symbol:
        return 0 - self


@dataclass(frozen=True)
class Program:
    """A compiled formula: inputs (register, step, shift), constants, instructions, result."""

    n_registers: int
    inputs: np.ndarray
    constant_registers: np.ndarray
    constant_values: np.ndarray
    instructions: np.ndarray
    result: int

    def evaluate(self, arrays: Sequence[np.ndarray], size: int) -> np.ndarray:
        """The formula at `size` points; input k reads `arrays[k]` (one array per input)."""
        if len(arrays) != self.inputs.shape[0]:
            raise ValueError(f"the program takes {self.inputs.shape[0]} inputs, got {len(arrays)}")
        out = np.empty((size, LIMBS), dtype=np.uint32)
        _run(
            self.instructions,
            self.constant_registers,
            self.constant_values,
            self.inputs,
            List(arrays),
            self.n_registers,
            self.result,
            out,
        )
        return out


@numba.njit(parallel=True, cache=True)
def _run(instructions, constants, constant_values, inputs, arrays, n_registers, result, out):
    size = out.shape[0]
    for c in numba.prange((size + CHUNK - 1) // CHUNK):
        registers = np.zeros((n_registers, LIMBS), np.uint32)
        for k in range(constants.shape[0]):
            registers[constants[k]] = constant_values[k]
        for i in range(c * CHUNK, min(size, (c + 1) * CHUNK)):
            for k in range(inputs.shape[0]):
                source = arrays[k]
                position = (i * inputs[k, 1] + inputs[k, 2]) % source.shape[0]
                for limb in range(LIMBS):
                    registers[inputs[k, 0], limb] = source[position, limb]
            for k in range(instructions.shape[0]):
                op, target, x, y = (
                    instructions[k, 0],
                    instructions[k, 1],
                    instructions[k, 2],
                    instructions[k, 3],
                )
                if op == MUL:
                    field.mul_into(registers, x, registers, y, registers, target)
                elif op == ADD:
                    field.add_into(registers, x, registers, y, registers, target)
                else:
                    field.sub_into(registers, x, registers, y, registers, target)
            out[i] = registers[result]
