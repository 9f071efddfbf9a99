"""Where a transfer's CPU time goes inside the devnet, function by function, with explicit timers.

Wraps the functions of a transfer's path (`Chain.add`: checks, the account's `__validate__` and
`__execute__` with the token's nested `transfer`, fee) in timers of this thread's CPU time, then
runs pre-signed transfers in process and prints, per transfer, each function's own time (its
callees that are timed too left out), its time with them, and its calls. Sampling profilers and
cProfile mislead here: the VM's steps are a few microseconds each and cProfile's per-call cost
is of that order. The timers cost ~1 us a call, so the short steps (thousands a transfer) are
timed as one block: the run loop with its planned steps.

    .venv/bin/python bench/devnet_breakdown.py [--n 20] [--rounds 1] [--baseline-ref REV]

Each breakdown runs in a child process; with --rounds R, R of them, and each figure is the
median over the rounds. --baseline-ref REV also breaks down commit REV's devnet (extracted into a
temporary directory), alternating with this tree's round by round, and prints both side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from baseline import source_tree

# (module:attribute path, label): the functions timed, outermost first.
TIMED = (
    ("devnet.chain:Chain.add", "Chain.add: parse, hashes, receipt, mining"),
    ("devnet.sequencer:Sequencer._check_bounds", "balance check"),
    ("devnet.sequencer:Sequencer._charge_fee", "fee transfer"),
    ("starkware.starknet.business_logic.execution.execute_entry_point:"
     "ExecuteEntryPoint._execute", "entry point: state, syscall handler, arguments"),
    ("starkware.starknet.services.api.contract_class.contract_class:"
     "CompiledClass.get_runnable_program", "entry point: runnable program"),
    ("starkware.cairo.common.cairo_function_runner:CairoFunctionRunner.__init__",
     "runner: built"),
    ("devnet.runner:DevnetRunner.initialize_state", "runner: program cells loaded"),
    ("devnet.runner:DevnetRunner.initialize_vm", "runner: VM built, hints loaded"),
    ("devnet.runner:DevnetRunner.run_until_pc", "run loop with the short steps"),
    ("starkware.cairo.lang.vm.cairo_runner:CairoRunner.vm_step",
     "stock step of a hinted instruction"),
    ("devnet.runner:DevnetVM.run_instruction", "hinted instruction after its hints"),
    ("starkware.cairo.lang.vm.virtual_machine_base:VirtualMachineBase.exec_hint",
     "hint code (Cairo 1 hints)"),
    ("starkware.starknet.core.os.syscall_handler:SyscallHandlerBase.syscall",
     "syscalls (the nested call's set-up included)"),
    ("starkware.cairo.lang.builtins.ec.ec_op_builtin_runner:ec_op_impl", "EC-op builtin"),
    ("starkware.python.math_utils:sqrt", "square roots (ECDSA hints)"),
    ("devnet.runner:DevnetRunner.end_run", "end of run: sizes, auto-deductions"),
    ("starkware.cairo.lang.vm.cairo_runner:CairoRunner.get_execution_resources",
     "end of run: resources, memory holes"),
    ("starkware.starknet.core.os.os_utils:validate_and_process_os_implicit_args",
     "end of run: implicit arguments checked"),
    ("starkware.starknet.business_logic.execution.execute_entry_point:get_call_result",
     "end of run: return values"),
    ("starkware.starknet.business_logic.execution.execute_entry_point:"
     "ExecuteEntryPoint._build_call_info", "end of run: call info"),
)


class Timers:
    """CPU nanoseconds per label: own (timed callees left out), with callees, calls."""

    def __init__(self) -> None:
        self.totals: dict[str, list[int]] = {}
        self._children = [0]  # CPU time of the timed callees of each open call

    def wrap(self, function: Callable[..., Any], label: str) -> Callable[..., Any]:
        clock, children, totals = time.thread_time_ns, self._children, self.totals

        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            children.append(0)
            started = clock()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = clock() - started
                own = elapsed - children.pop()
                children[-1] += elapsed
                entry = totals.setdefault(label, [0, 0, 0])
                entry[0] += own
                entry[1] += elapsed
                entry[2] += 1
        return timed

    def install(self) -> None:
        for path, label in TIMED:
            owner, name = _owner(path)
            setattr(owner, name, self.wrap(getattr(owner, name), label))


def _owner(path: str) -> tuple[Any, str]:
    """The object holding the attribute `path` names, and the attribute's name."""
    module, _, attribute = path.partition(":")
    *parents, name = attribute.split(".")
    owner = importlib.import_module(module)
    for parent in parents:
        owner = getattr(owner, parent)
    return owner, name


def breakdown(n: int) -> dict[str, Any]:
    """Per-transfer ms per label (own, with callees, calls) over n transfers after 3 warm-ups,
    and the CPU ms per transfer with the timers on."""
    sys.path.insert(0, str(Path("bench").resolve()))
    from devnet_execution import signed_transfer

    from devnet.chain import Chain, DevnetConfig
    from devnet.cli import settle_memory

    timers = Timers()
    timers.install()
    chain = Chain(DevnetConfig(accounts=1))
    chain.create_genesis()
    settle_memory()
    transfers = [signed_transfer(chain, nonce) for nonce in range(3 + n)]
    for tx in transfers[:3]:
        chain.add(tx)
    timers.totals.clear()
    started = time.thread_time_ns()
    for tx in transfers[3:]:
        chain.add(tx)
    cpu = (time.thread_time_ns() - started) / 1e6 / n
    rows = {label: [own / 1e6 / n, total / 1e6 / n, calls / n]
            for label, (own, total, calls) in timers.totals.items()}
    return {"cpu_ms": cpu, "rows": rows}


def breakdown_of(tree: Path, n: int) -> dict[str, Any]:
    """`breakdown(n)` of the devnet in `tree`, in a child process."""
    script = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
              f"import json, devnet_breakdown; print(json.dumps(devnet_breakdown.breakdown({n})))")
    output = subprocess.run([sys.executable, "-c", script], cwd=tree, capture_output=True,
                            text=True, check=True, timeout=900).stdout
    return json.loads(output.splitlines()[-1])


def medians(breakdowns: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure of `breakdowns` (one per round) as its median over the rounds."""
    labels = breakdowns[0]["rows"]
    return {"cpu_ms": statistics.median(b["cpu_ms"] for b in breakdowns),
            "rows": {label: [statistics.median(b["rows"][label][i] for b in breakdowns)
                             for i in range(3)] for label in labels}}


def show(now: dict[str, Any], base: dict[str, Any] | None) -> None:
    print(f"{'CPU ms per transfer (timers on)':48}{now['cpu_ms']:8.2f}"
          + (f"   base {base['cpu_ms']:8.2f}" if base else ""))
    print(f"{'function':48}{'own':>8}{'with':>8}{'calls':>7}" + ("   base own" if base else ""))
    for label, (own, total, calls) in sorted(now["rows"].items(), key=lambda kv: -kv[1][0]):
        line = f"  {label:46}{own:8.2f}{total:8.2f}{calls:7.1f}"
        if base and label in base["rows"]:
            line += f"   {base['rows'][label][0]:8.2f}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20, help="transfers timed")
    parser.add_argument("--rounds", type=int, default=1, help="breakdowns (medians shown)")
    parser.add_argument("--baseline-ref", help="also break down this commit's devnet")
    args = parser.parse_args()
    now: list[dict[str, Any]] = []
    base: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        tree = stack.enter_context(source_tree(args.baseline_ref)) if args.baseline_ref else None
        for _ in range(args.rounds):
            if tree is not None:
                base.append(breakdown_of(tree, args.n))
            now.append(breakdown_of(Path.cwd(), args.n))
    show(medians(now), medians(base) if base else None)


if __name__ == "__main__":
    main()
