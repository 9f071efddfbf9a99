"""The native STARK prover: proving time, peak memory, verification time, proof size and
security bits for 2^min … 2^max trace rows, and 1 thread against all threads.

`--air fibonacci` (default) proves the 2-column Fibonacci AIR; `--air cairo` proves the Cairo AIR
`cairo/1` (49 trace + 9 interaction columns, one row per step, with the memory and range-check
arguments) on proof-mode runs of the fibonacci example sized to fill 2^k steps; `--air cairo-rc`
proves `cairo-rc/1` (71 + 18 columns: the range_check builtin too) on runs of the bounded_sum
example (values below 30000, two range-check cells each) sized the same way, from 2^12 steps
(fewer cannot hold its range-check holes); `--air cairo-poseidon` proves `cairo-poseidon/1`
(65 + 10 columns and 10 periodic ones: the poseidon builtin, 128 rows per hash) on runs of the
poseidon_chain example with 2^k/128 − 1 hashes, as many as fit, in cairo-run's dynamic layout
(`cairo_jobs.native.dynamic_layout`; its named layouts with poseidon pad runs to 2^15 steps);
`--air cairo-pedersen` proves `cairo-pedersen/1` (63 + 10 columns and 11 periodic ones: the
pedersen builtin, 512 rows per hash) on runs of the merkle_root example with 2^k/512 leaves
(2^k/512 − 1 hashes) in the dynamic layout.
`--air cairo-bitwise` proves `cairo-bitwise/1` (96 + 10 columns and 7 periodic ones: the bitwise
builtin, 16 rows per instance) on runs of the bitwise_mix example with (2^k/16 − 1)/3 values,
three instances each, as many as fit, in the same layout. The run itself and reading its
artifacts are not timed.

Run: .venv/bin/python bench/native_prover.py [--air fibonacci] [--min-log 10] [--max-log 16]
    [--log-step 2] [--baseline-ref COMMIT | --baseline-air AIR]
Each size runs in a fresh process (so its peak RSS is its own) after a tiny warm-up proof (the
compiled kernels are cached on disk). With --baseline-ref, each size is also proved by the
`cairo_jobs` package of that commit (`baseline.source_tree`: a temporary copy of its files, so
it needs the same module interfaces), alternating with the current code under the same load,
and the ratios are printed. With --baseline-air, the baseline is another AIR of the current
code at the same sizes (e.g. `--air cairo-poseidon --baseline-air cairo`). Figures are
compared with the issue's goal for 2^16 steps and with the C++ Stone prover's figures quoted
there (not runnable here: for scale only).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

from baseline import source_tree

GOAL = {"log_rows": 16, "prove_s": 60.0, "peak_mb": 4096.0, "verify_s": 1.0, "bits": 80}
STONE_2_16 = {"prove_s": 71.0, "peak_mb": 2760.0, "verify_s": 0.05, "proof_kb": (85, 110)}


def program_input(air_name: str, log_rows: int) -> tuple[str, dict]:
    """The example and its input that fill 2^log_rows steps in proof mode."""
    if air_name == "cairo":
        return "fibonacci", {"n": max(1, ((1 << log_rows) - 40) // 6)}  # 6·n + 23 steps
    count = max(1, ((1 << log_rows) - 60) // 31)  # bounded_sum runs 31·count + 37 steps
    return "bounded_sum", {"values": [k * 7919 % 30000 for k in range(count)], "low": 0,
                           "high": 30000}  # fmt: skip


def statement(air_name: str, log_rows: int) -> tuple[object, list[list[int]]]:
    """The AIR and trace to prove."""
    from cairo_jobs.native.air import FibonacciAir

    if air_name == "fibonacci":
        return FibonacciAir.run(log_rows)
    from cairo_jobs.examples import compiled
    from cairo_jobs.native import cairo_trace
    from cairo_jobs.native.cairo_air import CairoAir
    from cairo_jobs.runner import RunRequest
    from cairo_jobs.vm import execute

    if air_name in DYNAMIC:
        return dynamic_statement(air_name, log_rows)
    example, values = program_input(air_name, log_rows)
    with tempfile.TemporaryDirectory() as work_dir:
        request = RunRequest(
            program=compiled(example),
            program_input=values,
            layout="small",
            proof_mode=True,
            max_steps=1 << 24,
            work_dir=Path(work_dir),
        )
        files = execute(request).artifacts
        columns, public = cairo_trace.trace_columns(files.public_input, files.trace, files.memory)
    return CairoAir(public), columns


def bitwise_values(log_rows: int) -> list[int]:
    """Values below 2^251 for bitwise_mix, three instances each, as many as 2^log_rows rows of
    16 per instance hold."""
    count = ((1 << log_rows) // 16 - 1) // 3
    return [(k * 0x9E3779B97F4A7C15 << (k % 189)) % 2**251 for k in range(count)]


DYNAMIC = {  # AIR → example, builtins, input for 2^log_rows steps (in the dynamic layout)
    "cairo-poseidon": ("poseidon_chain", ["output", "poseidon"],
                       lambda log_rows: {"seed": 7, "n": (1 << log_rows) // 128 - 1}),
    "cairo-pedersen": ("merkle_root", ["output", "pedersen"],
                       lambda log_rows: {"leaves": list(range(1, (1 << log_rows) // 512 + 1))}),
    "cairo-bitwise": ("bitwise_mix", ["output", "bitwise"],
                      lambda log_rows: {"values": bitwise_values(log_rows)}),
}  # fmt: skip


def dynamic_statement(air_name: str, log_rows: int) -> tuple[object, list[list[int]]]:
    """The AIR's example with as many instances as 2^log_rows steps hold, run by cairo-run's
    CLI in the dynamic layout."""
    from cairo_jobs.examples import compiled
    from cairo_jobs.native import cairo_trace, dynamic_layout
    from cairo_jobs.native.cairo_air import CairoAir

    example, builtins, example_input = DYNAMIC[air_name]
    with tempfile.TemporaryDirectory() as work_dir:
        root = Path(work_dir)
        program, layout, values = root / "program.json", root / "layout.json", root / "input.json"
        program.write_bytes(compiled(example))
        layout.write_text(json.dumps(dynamic_layout.params(builtins)))
        values.write_text(json.dumps(example_input(log_rows)))
        files = dynamic_layout.artifacts_in(root)
        cairo_run = Path(sys.executable).parent / "cairo-run"
        args = dynamic_layout.cairo_run_args(program, layout, files)
        subprocess.run([str(cairo_run), *args, "--program_input", str(values)], check=True,
                       capture_output=True, timeout=600)  # fmt: skip
        columns, public = cairo_trace.trace_columns(files.public_input, files.trace, files.memory)
    return CairoAir(public), columns


def measure(air_name: str, log_rows: int) -> dict[str, float]:
    """One proof and its verification in this process (run as a child)."""
    from cairo_jobs.native import prover, verifier
    from cairo_jobs.native.air import FibonacciAir

    warm_air, warm_trace = FibonacciAir.run(6)
    verifier.verify(warm_air, prover.prove(warm_air, warm_trace))
    air, trace = statement(air_name, log_rows)
    started, started_cpu = time.perf_counter(), time.process_time()
    data = prover.prove(air, trace)
    proved, cpu = time.perf_counter(), time.process_time() - started_cpu
    bits = verifier.verify(air, data)
    verified = time.perf_counter()
    return {
        "log_rows": air.log_trace_length,
        "prove_s": proved - started,
        "prove_cpu_s": cpu,
        "verify_s": verified - proved,
        "proof_kb": len(data) / 1024,
        "bits": bits,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def in_child(
    air_name: str, log_rows: int, threads: int | None, package_root: Path | None = None
) -> dict[str, float]:
    """Measures one size in a fresh process; `package_root` holds another `cairo_jobs`."""
    env = dict(os.environ)
    if threads:
        env["NUMBA_NUM_THREADS"] = str(threads)
    if package_root is not None:
        env["PYTHONPATH"] = str(package_root)
    output = subprocess.run(
        [sys.executable, __file__, "--air", air_name, "--child", str(log_rows)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    ).stdout
    return json.loads(output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--air", choices=["fibonacci", "cairo", "cairo-rc", *DYNAMIC], default="fibonacci"
    )
    parser.add_argument("--min-log", type=int, default=10)
    parser.add_argument("--max-log", type=int, default=16)
    parser.add_argument("--log-step", type=int, default=2, help="sizes 2^min, 2^(min+step), …")
    parser.add_argument("--threads-log", type=int, default=14, help="size for the thread check")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--baseline-ref", help="also prove with the code of this commit")
    parser.add_argument("--baseline-air", help="also prove this AIR (current code)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size and code (medians)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.air, args.child)))
        return

    sizes = range(args.min_log, args.max_log + 1, args.log_step)
    if args.baseline_ref:
        with source_tree(args.baseline_ref) as root:
            title = f"{args.air} AIR: baseline {args.baseline_ref} against the current code"
            compare(sizes, args.repeat, (args.air, root), (args.air, None), title)
        return
    if args.baseline_air:
        title = f"{args.air} AIR against the {args.baseline_air} AIR (baseline)"
        compare(sizes, args.repeat, (args.baseline_air, None), (args.air, None), title)
        return
    rows = [in_child(args.air, log, None) for log in sizes]
    one_thread = in_child(args.air, args.threads_log, 1)
    all_threads = next((r for r in rows if r["log_rows"] == args.threads_log), None)
    all_threads = all_threads or in_child(args.air, args.threads_log, None)
    if args.json:
        print(json.dumps({"rows": rows, "one_thread": one_thread, "goal": GOAL}, indent=2))
        return
    print(f"{args.air} AIR")
    print(f"{'rows':>6} {'prove s':>8} {'peak MB':>8} {'verify s':>9} {'proof KB':>9} {'bits':>5}")
    for r in rows:
        print(
            f"2^{r['log_rows']:<4} {r['prove_s']:8.2f} {r['peak_mb']:8.0f} {r['verify_s']:9.3f}"
            f" {r['proof_kb']:9.1f} {r['bits']:5d}"
        )
    speedup = one_thread["prove_s"] / all_threads["prove_s"]
    print(
        f"2^{args.threads_log}: 1 thread {one_thread['prove_s']:.2f} s, "
        f"all threads {all_threads['prove_s']:.2f} s ({speedup:.2f}x)"
    )
    at_goal = next((r for r in rows if r["log_rows"] == GOAL["log_rows"]), None)
    if at_goal:
        print(
            f"2^16 vs goal: prove {at_goal['prove_s'] / GOAL['prove_s']:.2f}x of 60 s, "
            f"peak {at_goal['peak_mb'] / GOAL['peak_mb']:.2f}x of 4 GB; vs Stone (quoted): "
            f"{at_goal['prove_s'] / STONE_2_16['prove_s']:.2f}x its 71 s, "
            f"{at_goal['peak_mb'] / STONE_2_16['peak_mb']:.2f}x its 2.76 GB"
        )


def compare(
    sizes: range,
    repeat: int,
    baseline: tuple[str, Path | None],
    current: tuple[str, Path | None],
    title: str,
) -> None:
    """Each size proved by the baseline and the current (AIR, package root), alternating
    `repeat` times; medians of wall and CPU (all threads) time, and their ratios."""
    print(f"{title}, medians of {repeat}")
    print(f"{'rows':>6} {'base s':>7} {'now s':>7} {'ratio':>6} {'base cpu':>8} {'now cpu':>7}"
          f" {'ratio':>6} {'base MB':>7} {'now MB':>6} {'verify s':>8} {'proof KB':>8}"
          f" {'bits':>4}")  # fmt: skip
    for log_rows in sizes:
        runs = [
            (
                in_child(baseline[0], log_rows, None, baseline[1]),
                in_child(current[0], log_rows, None, current[1]),
            )
            for _ in range(repeat)
        ]
        base = {key: median(b[key] for b, _ in runs) for key in runs[0][0]}
        now = {key: median(n[key] for _, n in runs) for key in runs[0][1]}
        print(
            f"2^{log_rows:<4} {base['prove_s']:7.2f} {now['prove_s']:7.2f}"
            f" {base['prove_s'] / now['prove_s']:5.2f}x {base['prove_cpu_s']:8.2f}"
            f" {now['prove_cpu_s']:7.2f} {base['prove_cpu_s'] / now['prove_cpu_s']:5.2f}x"
            f" {base['peak_mb']:7.0f} {now['peak_mb']:6.0f} {now['verify_s']:8.3f}"
            f" {now['proof_kb']:8.1f} {now['bits']:4.0f}"
        )


if __name__ == "__main__":
    main()
