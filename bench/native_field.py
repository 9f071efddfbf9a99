"""Multiplication and addition over the Stark prime: the candidate representations side by side.

Run: .venv/bin/python bench/native_field.py [--log-n 16] [--rounds 5] [--json]
Each figure is the median over rounds of nanoseconds per element-wise operation on 2^log_n
elements; the ratio is Python ints (the baseline) / candidate. gmpy2 and galois are measured
when installed. They are not dependencies, and must not go into the project's venv: with gmpy2
importable, cairo-lang 0.14 compiles programs to gmpy2 integers that its own JSON schema then
refuses. Measure them from a separate venv (or uninstall them afterwards).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import statistics
import time
from collections.abc import Callable

import numba
import numpy as np

from cairo_jobs.native import field

P = field.P
MASK = np.uint64(0xFFFFFFFF)
SHIFT = np.uint64(32)


def median_ns(operation: Callable[[], object], n: int, rounds: int) -> float:
    """Median nanoseconds per element of `operation` over `rounds` runs (after one warm-up)."""
    operation()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        operation()
        times.append(time.perf_counter() - start)
    return statistics.median(times) / n * 1e9


def limbs_of(values: list[int]) -> np.ndarray:
    """Montgomery forms as uint64[8, n] (one 32-bit limb per row), for the numpy-limbs candidate."""
    return field.from_ints(values).T.astype(np.uint64)


def numpy_limbs_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Montgomery product, vectorised over elements with numpy (each op over all n elements)."""
    t = np.zeros((17, a.shape[1]), dtype=np.uint64)
    for i in range(8):
        carry = np.zeros(a.shape[1], dtype=np.uint64)
        for j in range(8):
            v = t[i + j] + a[i] * b[j] + carry
            t[i + j], carry = v & MASK, v >> SHIFT
        t[i + 8] = carry
    carry = np.zeros(a.shape[1], dtype=np.uint64)
    for i in range(8):
        v = t[i] + carry
        m = (np.uint64(1 << 32) - (v & MASK)) & MASK
        carry = (v + m) >> SHIFT
        t[i + 6] += m * np.uint64(17)
        t[i + 7] += m << np.uint64(27)
    out = np.empty((8, a.shape[1]), dtype=np.uint64)
    for i in range(8):
        v = t[i + 8] + carry
        out[i], carry = v & MASK, v >> SHIFT
    return out  # in [0, 2p): the final conditional subtraction is left out (favours this one)


def candidates(xs: list[int], ys: list[int]) -> dict[str, tuple[Callable, Callable]]:
    """name -> (multiply all, add all) closures over the same inputs."""
    found: dict[str, tuple[Callable, Callable]] = {
        "python int": (
            lambda: [x * y % P for x, y in zip(xs, ys, strict=True)],
            lambda: [(x + y) % P for x, y in zip(xs, ys, strict=True)],
        ),
    }
    if importlib.util.find_spec("gmpy2"):
        import gmpy2

        gx, gy, gp = [gmpy2.mpz(x) for x in xs], [gmpy2.mpz(y) for y in ys], gmpy2.mpz(P)
        found["gmpy2 mpz"] = (
            lambda: [x * y % gp for x, y in zip(gx, gy, strict=True)],
            lambda: [(x + y) % gp for x, y in zip(gx, gy, strict=True)],
        )
    ox, oy = np.array(xs, dtype=object), np.array(ys, dtype=object)
    found["numpy object"] = (lambda: ox * oy % P, lambda: (ox + oy) % P)
    if importlib.util.find_spec("galois"):
        import galois

        gf = galois.GF(P, primitive_element=field.GENERATOR, verify=False)
        fx, fy = gf(ox), gf(oy)
        found["galois GF(p)"] = (lambda: fx * fy, lambda: fx + fy)
    lx, ly = limbs_of(xs), limbs_of(ys)
    found["numpy 8x32 limbs"] = (lambda: numpy_limbs_mul(lx, ly), lambda: None)
    ax, ay = field.from_ints(xs), field.from_ints(ys)
    found["numba 8x32 (1 thread)"] = (lambda: field.mul(ax, ay), lambda: field.add(ax, ay))
    found["numba 8x32 (all threads)"] = found["numba 8x32 (1 thread)"]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log-n", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    n = 1 << args.log_n
    rng = random.Random(1)
    xs, ys = [rng.randrange(P) for _ in range(n)], [rng.randrange(P) for _ in range(n)]
    threads = numba.config.NUMBA_NUM_THREADS
    results = {}
    for name, (multiply, add) in candidates(xs, ys).items():
        numba.set_num_threads(1 if "1 thread" in name else threads)
        add_ns = None if "numpy 8x32" in name else median_ns(add, n, args.rounds)
        results[name] = {"mul_ns": median_ns(multiply, n, args.rounds), "add_ns": add_ns}
    numba.set_num_threads(threads)
    base = results["python int"]
    for figures in results.values():
        figures["mul_speedup"] = base["mul_ns"] / figures["mul_ns"]
    if args.json:
        print(json.dumps({"n": n, "threads": threads, "results": results}, indent=2))
        return
    print(f"2^{args.log_n} elements, median of {args.rounds}, {threads} threads available")
    print(f"{'representation':<26} {'mul ns':>8} {'add ns':>8} {'mul vs int':>11}")
    for name, figures in results.items():
        add_text = "-" if figures["add_ns"] is None else f"{figures['add_ns']:.1f}"
        print(f"{name:<26} {figures['mul_ns']:8.1f} {add_text:>8} {figures['mul_speedup']:10.1f}x")


if __name__ == "__main__":
    main()
