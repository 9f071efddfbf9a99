"""Each example computes what its one-line description says (checked against plain Python)."""

from __future__ import annotations

import pytest
from fast_stark_crypto import pedersen_hash
from starknet_py.hash.hash_method import HashMethod

from cairo_jobs.examples import EXAMPLES, compiled
from cairo_jobs.facts import STARK_PRIME
from cairo_jobs.runner import FailureReason, RunFailure, RunRequest
from cairo_jobs.streaming import log_commitment
from cairo_jobs.vm import execute


def run(name: str, program_input: dict) -> list[int]:
    request = RunRequest(
        program=compiled(name), program_input=program_input, layout=EXAMPLES[name].layout
    )
    return execute(request).output


def test_fibonacci():
    fib = [0, 1]
    while len(fib) <= 90:
        fib.append(fib[-1] + fib[-2])
    assert run("fibonacci", {"n": 0}) == [0, 0]
    assert run("fibonacci", {"n": 90}) == [90, fib[90]]


def test_poseidon_chain():
    h = 12345
    for i in range(7):
        h = HashMethod.POSEIDON.hash(h, i)
    assert run("poseidon_chain", {"seed": 12345, "n": 7}) == [7, h]


def test_pedersen_range():
    values, h = [0, 5, 2**64, 999], 0
    for value in values:
        h = pedersen_hash(h, value)
    assert run("pedersen_range", {"values": values, "bound": 2**64}) == [4, 2**64, h]


def test_merkle_root():
    leaves = list(range(100, 116))
    layer = leaves
    while len(layer) > 1:
        layer = [pedersen_hash(layer[i], layer[i + 1]) for i in range(0, len(layer), 2)]
    assert run("merkle_root", {"leaves": leaves}) == [16, layer[0]]
    assert run("merkle_root", {"leaves": [7]}) == [1, 7]


@pytest.mark.parametrize("leaves", [[], [1, 2, 3]])
def test_merkle_root_refuses_a_non_power_of_two(leaves):
    with pytest.raises(RunFailure) as caught:
        run("merkle_root", {"leaves": leaves})
    assert caught.value.reason is FailureReason.HINT_ERROR
    assert "power of 2" in caught.value.message


def test_bounded_sum():
    values = [2**128 - 1, 0, 5]
    assert run("bounded_sum", {"values": values, "low": 0, "high": 2**128 - 1}) == [
        3, 0, 2**128 - 1, sum(values)
    ]
    assert run("bounded_sum", {"values": [], "low": 9, "high": 1}) == [0, 9, 1, 0]


@pytest.mark.parametrize(("values", "low", "high", "message"), [
    ([3, 10], 4, 20, "is out of range"),  # 3 < low: assert_le's hint refuses
    ([3, 21], 0, 20, "is out of range"),  # 21 > high
    ([2**128], 0, 1, "values must be integers in [0, 2**128)"),
    ("3", 0, 1, "values must be a list"),
    ([1], -1, 1, "low must be in"),
])
def test_bounded_sum_refuses_values_out_of_bounds(values, low, high, message):
    with pytest.raises(RunFailure) as caught:
        run("bounded_sum", {"values": values, "low": low, "high": high})
    assert caught.value.reason is FailureReason.HINT_ERROR
    assert message in caught.value.message


def test_long_loop():
    x = 3
    for i in range(50):
        x = (x**3 + i + 1) % STARK_PRIME
    assert run("long_loop", {"n": 50, "x": 3}) == [50, x]


@pytest.mark.parametrize("name, answer", [
    ("stream_squares", lambda request: [x * x % STARK_PRIME for x in request]),
    ("stream_digest", None),
])
def test_streaming_examples_settle_to_the_commitment_of_their_answers(name, answer):
    requests = [[3, STARK_PRIME - 1], [], [7]]
    answers = []
    for request in requests:
        output = run(name, {"request": request})
        assert output[: len(request) + 1] == [len(request), *request]
        answers.append(output[len(request) + 1:])
        if answer is not None:
            assert answers[-1] == answer(request)
    assert run(name, {"requests": requests}) == log_commitment(zip(requests, answers, strict=True))


def test_bitwise_mix():
    values = [2**251 - 1, 0, 2**250 + 5, 0xF0F0F0, 12345678901234567890]
    xor_sum, and_sum, or_sum = 0, 2**251 - 1, 0
    for value in values:
        xor_sum, and_sum, or_sum = xor_sum ^ value, and_sum & value, or_sum | value
    assert run("bitwise_mix", {"values": values}) == [5, xor_sum, and_sum, or_sum]
    assert run("bitwise_mix", {"values": []}) == [0, 0, 2**251 - 1, 0]


@pytest.mark.parametrize(("values", "message"), [
    ([1, 2**251], "values must be integers in [0, 2**251)"),
    ([-1], "values must be integers in [0, 2**251)"),
    ({"a": 1}, "values must be a list"),
])
def test_bitwise_mix_refuses_values_out_of_range(values, message):
    with pytest.raises(RunFailure) as caught:
        run("bitwise_mix", {"values": values})
    assert caught.value.reason is FailureReason.HINT_ERROR
    assert message in caught.value.message
