"""The short step path (`cairo_jobs.step`) leaves the VM exactly as cairo-lang's step does.

A Cairo 0 program with every kind of instruction (calls and returns, conditional and relative
jumps, deduced operands (quotients too), multiplications, double dereferences, immediates, hints,
builtin cells) runs in `DevnetRunner` with and without short steps; memory, registers, steps,
accessed addresses and return values must be equal, and failures must raise the same error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starkware.cairo.common.cairo_function_runner import CairoFunctionRunner
from starkware.cairo.lang.compiler.program import Program
from starkware.cairo.lang.vm.vm_exceptions import VmException

from cairo_jobs.program import compile_source, load_program
from devnet.runner import DevnetRunner, DevnetVM

SOURCE = """
from starkware.cairo.common.cairo_builtins import HashBuiltin
from starkware.cairo.common.hash import hash2
from starkware.cairo.common.math import assert_nn_le

func fib(a: felt, b: felt, n: felt) -> (r: felt) {
    if (n == 0) {
        return (r=a);
    }
    return fib(b, a + b, n - 1);
}

struct Pair {
    x: felt,
    y: felt,
}

func sum_pair(p: Pair*) -> (r: felt) {
    return (r=p.x * p.y + p.x);
}

func compute{pedersen_ptr: HashBuiltin*, range_check_ptr}(n: felt, expected: felt) -> felt {
    alloc_locals;
    local pair: Pair = Pair(x=n, y=n + 3);
    let (__fp__, _) = get_fp_and_pc();
    let (local product) = sum_pair(&pair);
    let (local f) = fib(0, 1, n);
    assert_nn_le(n, 1000);
    let (hashed) = hash2{hash_ptr=pedersen_ptr}(f, product);
    local h = hashed;
    local from_hint;
    %{ ids.from_hint = ids.n * 2 %}
    assert from_hint = n + n;
    local deduced = expected - 1;
    assert deduced + 1 = expected;
    local quotient;
    assert product = quotient * pair.y;
    local divided;
    assert product = pair.y * divided;
    return h + f + product + from_hint + deduced + quotient + divided;
}

from starkware.cairo.common.registers import get_fp_and_pc
"""


@pytest.fixture(scope="module")
def program() -> Program:
    return load_program(compile_source(SOURCE, proof_mode=False).decode())


@pytest.fixture
def short_steps() -> Iterator[None]:
    yield
    DevnetVM.short_steps = True


def run(program: Program, short: bool, *args: int) -> tuple[dict[str, Any], int]:
    """The VM's state after `compute(*args)` with short steps on or off (or the error raised),
    and how many instructions the short path planned."""
    DevnetVM.short_steps = short
    runner = DevnetRunner.adopt(CairoFunctionRunner(program))  # as the devnet runs: no trace
    try:
        runner.run("compute", runner.pedersen_builtin.base, runner.range_check_builtin.base, *args,
                   verify_secure=False)
    except VmException as error:
        return {"error": str(error)}, len(runner.vm.plans)
    vm = runner.vm
    state = {"memory": dict(runner.memory.data), "pc": vm.run_context.pc,
             "ap": vm.run_context.ap, "fp": vm.run_context.fp, "steps": vm.current_step,
             "accessed": runner.accessed_addresses, "returned": runner.get_return_values(3)}
    return state, len(vm.plans)


@pytest.mark.parametrize("n", [0, 1, 7, 30])
def test_short_steps_give_the_stock_state(program: Program, short_steps: None, n: int) -> None:
    (short, planned), (stock, _) = run(program, True, n, 11), run(program, False, n, 11)
    assert "error" not in stock
    assert short == stock
    assert stock["steps"] > 50 and planned > 20, "the short path ran most instructions"


def test_a_failing_hint_raises_the_stock_error(program: Program, short_steps: None) -> None:
    (short, _), (stock, _) = run(program, True, 1001, 11), run(program, False, 1001, 11)
    assert "error" in stock  # assert_nn_le(1001, 1000): its hint refuses
    assert short == stock


def test_a_failing_assert_eq_raises_the_stock_error(short_steps: None) -> None:
    program = load_program(compile_source(
        "func check(x: felt) {\n    assert x * 3 = 12;\n    return ();\n}\n",
        proof_mode=False).decode())
    errors = []
    for short in (True, False):
        DevnetVM.short_steps = short
        runner = DevnetRunner.adopt(CairoFunctionRunner(program))
        with pytest.raises(VmException) as raised:
            runner.run("check", 5, verify_secure=False)
        errors.append(str(raised.value))
    assert errors[0] == errors[1]
    assert "An ASSERT_EQ instruction failed: 12 != 15." in errors[0]


def test_a_builtin_rule_that_refuses_raises_the_stock_error(short_steps: None) -> None:
    """A pedersen output read with a pointer as input: the builtin's rule raises, once."""
    program = load_program(compile_source(
        "from starkware.cairo.common.cairo_builtins import HashBuiltin\n"
        "func bad{pedersen_ptr: HashBuiltin*}(p: felt*) -> felt {\n"
        "    assert pedersen_ptr.x = cast(p, felt);\n"
        "    assert pedersen_ptr.y = 1;\n"
        "    tempvar result = pedersen_ptr.result;\n"
        "    return result;\n"
        "}\n", proof_mode=False).decode())
    errors = []
    for short in (True, False):
        DevnetVM.short_steps = short
        runner = DevnetRunner.adopt(CairoFunctionRunner(program))
        with pytest.raises(VmException) as raised:
            runner.run("bad", runner.pedersen_builtin.base, runner.execution_base,
                       verify_secure=False)
        errors.append(str(raised.value))
    assert errors[0] == errors[1]
    assert "pedersen builtin: Expected integer" in errors[0]
