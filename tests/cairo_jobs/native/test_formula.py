"""Formulas recorded on symbols and run by the compiled kernel agree with Python ints."""

from __future__ import annotations

import random

import numpy as np
import pytest

from cairo_jobs.native import field
from cairo_jobs.native.field import P
from cairo_jobs.native.formula import Recorder


def formula(a, b, c):
    """Every operation, int constants on both sides, a repeated subexpression."""
    return 3 * (a * b - c) + (a * b - c) * (1 - a) - b * 2**200 + (-c) * 1 + 0 - (c + 0)


def test_program_matches_ints_with_steps_shifts_and_periods() -> None:
    rng = random.Random(7)
    a_values = [rng.randrange(P) for _ in range(64)]
    b_values = [*(rng.randrange(P) for _ in range(6)), 0, P - 1]
    recorder = Recorder()
    a, a_next, b = recorder.input(step=2), recorder.input(step=2, shift=5), recorder.input()
    program = recorder.program(formula(a, a_next, b))
    arrays = [field.from_ints(a_values), field.from_ints(a_values), field.from_ints(b_values)]
    got = field.to_ints(program.evaluate(arrays, 4000))  # more than one chunk per thread
    expected = [
        formula(a_values[2 * i % 64], a_values[(2 * i + 5) % 64], b_values[i % 8]) % P
        for i in range(4000)
    ]
    assert got == expected


def test_equal_subexpressions_are_recorded_once() -> None:
    recorder = Recorder()
    a, b = recorder.input(), recorder.input()
    program = recorder.program((a * b + b * a) * (a * b) * 1 + 0)
    assert program.instructions.shape[0] == 3  # a·b, a·b + a·b, their product


def test_wrong_number_of_inputs_is_refused() -> None:
    recorder = Recorder()
    a, b = recorder.input(), recorder.input()
    program = recorder.program(a + b)
    with pytest.raises(ValueError, match="takes 2 inputs, got 1"):
        program.evaluate([np.zeros((4, field.LIMBS), dtype=np.uint32)], 4)


def test_a_product_with_zero_is_the_constant_zero() -> None:
    recorder = Recorder()
    a = recorder.input()
    program = recorder.program(a * 0 + 0 * a + 5)
    assert program.instructions.shape[0] == 1  # 0 + 5 (both products are the constant 0)
    assert field.to_ints(program.evaluate([field.from_ints([9, 10])], 2)) == [5, 5]
