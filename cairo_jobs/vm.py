"""Runs one `RunRequest` in the current process with cairo-lang's VM, as `cairo-run` does."""

from __future__ import annotations

import functools
import json
import math
import tempfile
import time
from pathlib import Path

from starkware.cairo.lang.compiler.identifier_manager import MissingIdentifierError
from starkware.cairo.lang.compiler.program import Program
from starkware.cairo.lang.instances import LAYOUTS, CairoLayout
from starkware.cairo.lang.vm.cairo_run import (
    write_air_public_input,
    write_binary_memory,
    write_binary_trace,
)
from starkware.cairo.lang.vm.cairo_runner import CairoRunner
from starkware.cairo.lang.vm.memory_dict import MemoryDict
from starkware.cairo.lang.vm.relocatable import MaybeRelocatable
from starkware.cairo.lang.vm.security import verify_secure_runner
from starkware.cairo.lang.vm.vm_exceptions import HintException, SecurityError, VmException

from cairo_jobs.failures import FailureReason, RunFailure
from cairo_jobs.hints import check_hints
from cairo_jobs.model import ProgressCallback, ProofArtifacts, RunRequest, RunResult, Timings
from cairo_jobs.program import load_program, program_hash
from cairo_jobs.step import Plan, ProgramSpan, step_planned

# "dynamic" needs a layout-parameters file that a job body does not carry.
SUPPORTED_LAYOUTS = tuple(name for name in LAYOUTS if name != "dynamic")


def execute(
    request: RunRequest, on_progress: ProgressCallback | None = None, short_steps: bool = True
) -> RunResult:
    """Loads, hashes and runs the program; in proof mode also writes the prover's input files.

    `on_progress(steps)` is called every `request.progress_every` steps. Hint-free instructions
    take the short step path of `cairo_jobs.step` (`short_steps` False: cairo-lang's step only,
    for comparisons); the same program keeps its step plans between runs in this process.
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    program, hash_value, plans = _load(request.program_text())
    if request.allowed_hints is not None:
        check_hints(program, request.allowed_hints)
    loaded = time.perf_counter()
    runner = _run(
        program, _layout(request.layout), request, on_progress, plans if short_steps else None
    )
    ran = time.perf_counter()
    artifacts = _write_artifacts(runner, request) if request.proof_mode else None
    done = time.perf_counter()
    return RunResult(
        output=_output(runner),
        steps=runner.original_steps,
        trace_steps=runner.vm.current_step,
        program_hash=hash_value,
        layout=request.layout,
        timings=Timings(
            load=loaded - started,
            run=ran - loaded,
            artifacts=done - ran,
            total=done - started,
            cpu=time.process_time() - cpu_started,
        ),
        artifacts=artifacts,
    )


@functools.lru_cache(maxsize=16)
def _load(text: str) -> tuple[Program, int, dict[MaybeRelocatable, Plan]]:
    """The program, its hash and its step plans (filled by its runs), kept for the next runs."""
    program = load_program(text)
    return program, program_hash(program), {}


def _layout(name: str) -> CairoLayout:
    if name not in SUPPORTED_LAYOUTS:
        raise RunFailure(
            FailureReason.UNKNOWN_LAYOUT,
            f"layout {name!r} is not supported; use one of {', '.join(SUPPORTED_LAYOUTS)}",
        )
    return LAYOUTS[name]


def _run(
    program: Program,
    layout: CairoLayout,
    request: RunRequest,
    on_progress: ProgressCallback | None,
    plans: dict[MaybeRelocatable, Plan] | None,
) -> CairoRunner:
    runner = _new_runner(program, layout, request.proof_mode)
    try:
        end = runner.initialize_main_entrypoint()
        runner.initialize_zero_segment()
        runner.initialize_vm(hint_locals={"program_input": dict(request.program_input)})
        _run_until(runner, end, request, on_progress, plans)
        if request.proof_mode:
            # One more step so that the last executed pc is __end__ (as cairo-run does).
            runner.run_for_steps(1)
        runner.original_steps = runner.vm.current_step
        runner.end_run(disable_trace_padding=False)
        runner.read_return_values()
        if request.proof_mode:
            runner.finalize_segments()
        else:
            verify_secure_runner(runner)
    except VmException as err:
        raise _vm_failure(err, request) from None
    except SecurityError as err:
        raise RunFailure(
            FailureReason.EXECUTION_ERROR,
            f"the run failed cairo-run's security check ({err}); a bootloader would refuse it",
        ) from None
    except (AssertionError, ValueError, KeyError) as err:
        raise RunFailure(FailureReason.EXECUTION_ERROR, f"the run was rejected: {err}") from None
    runner.relocate()
    return runner


def _run_until(
    runner: CairoRunner,
    end: int,
    request: RunRequest,
    on_progress: ProgressCallback | None,
    plans: dict[MaybeRelocatable, Plan] | None,
) -> None:
    """Steps the VM until `end` (as `CairoRunner.run_until_pc`), within the step limit; through
    `plans` (the short step path) where they apply, if given."""
    limit = request.max_steps - (1 if request.proof_mode else 0)  # Proof mode adds one step.
    vm = runner.vm
    program = ProgramSpan(runner.program_base, len(runner.program.data))
    final_pc = runner.final_pc
    stock_only = plans is None or final_pc in program  # vm_step checks the final pc
    while vm.run_context.pc != end:
        if vm.current_step >= limit:
            raise RunFailure(
                FailureReason.STEP_LIMIT,
                f"the program did not end within {request.max_steps} steps; "
                "raise max_steps or shrink the input",
            )
        if stock_only or not step_planned(vm, plans, program):
            runner.vm_step()
        if on_progress is not None and vm.current_step % request.progress_every == 0:
            on_progress(vm.current_step)


def _new_runner(program: Program, layout: CairoLayout, proof_mode: bool) -> CairoRunner:
    if proof_mode:
        _check_provable(program)
    try:
        runner = CairoRunner(
            program=program,
            layout=layout,
            memory=MemoryDict(),
            proof_mode=proof_mode,
            allow_missing_builtins=False,
        )
    except AssertionError as err:
        raise RunFailure(
            FailureReason.LAYOUT_MISMATCH, f"{err}; pick a layout that has every builtin"
        ) from None
    runner.initialize_segments()
    return runner


def _check_provable(program: Program) -> None:
    try:
        program.get_label("__start__")
        program.get_label("__end__")
    except MissingIdentifierError:
        raise RunFailure(
            FailureReason.NOT_PROVABLE,
            "proof mode needs the __start__ and __end__ labels; compile with "
            "`cairo-compile --proof_mode` (or run without proof mode)",
        ) from None


def _vm_failure(err: VmException, request: RunRequest) -> RunFailure:
    inner = err.inner_exc
    if isinstance(inner, HintException):
        detail = err.notes[-1].strip().splitlines()[-1] if err.notes else str(inner)
        if detail.startswith("MemoryError"):
            return memory_limit_failure(request.memory_cap)
        return RunFailure(
            FailureReason.HINT_ERROR,
            f"a hint failed at pc={err.pc}: {detail}; check that the program input has the "
            "shape the program expects",
        )
    return RunFailure(FailureReason.EXECUTION_ERROR, f"the program failed at pc={err.pc}: {inner}")


def memory_limit_failure(memory_cap: int) -> RunFailure:
    """The failure of a run that needed more than `memory_cap` bytes."""
    return RunFailure(
        FailureReason.MEMORY_LIMIT,
        f"the run needed more than its memory cap of {memory_cap // 2**20} MiB; "
        "raise memory_cap or shrink the input",
    )


def _output(runner: CairoRunner) -> list[int]:
    output_runner = runner.builtin_runners.get("output_builtin")
    if output_runner is None:
        return []
    _, size = output_runner.get_used_cells_and_allocated_size(runner)
    values = [runner.vm_memory.get(output_runner.base + i) for i in range(size)]
    if any(not isinstance(value, int) for value in values):
        raise RunFailure(
            FailureReason.EXECUTION_ERROR, "the program output has missing or non-felt cells"
        )
    return [value % runner.program.prime for value in values]


def _write_artifacts(runner: CairoRunner, request: RunRequest) -> ProofArtifacts:
    work_dir = request.work_dir or Path(tempfile.mkdtemp(prefix="cairo-run-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    paths = ProofArtifacts(
        public_input=work_dir / "air_public_input.json",
        private_input=work_dir / "air_private_input.json",
        trace=work_dir / "trace.bin",
        memory=work_dir / "memory.bin",
    )
    with paths.trace.open("wb") as trace_file:
        write_binary_trace(trace_file, runner.relocated_trace)
    with paths.memory.open("wb") as memory_file:
        field_bytes = math.ceil(runner.program.prime.bit_length() / 8)
        write_binary_memory(memory_file, runner.relocated_memory, field_bytes)
    _write_public_input(runner, request.layout, paths.public_input)
    private = {
        "trace_path": str(paths.trace.resolve()),
        "memory_path": str(paths.memory.resolve()),
        **runner.get_air_private_input(),
    }
    paths.private_input.write_text(json.dumps(private, indent=4) + "\n")
    return paths


def _write_public_input(runner: CairoRunner, layout: str, path: Path) -> None:
    rc_min, rc_max = runner.get_perm_range_check_limits()
    with path.open("w") as public_input_file:
        write_air_public_input(
            layout=layout,
            public_input_file=public_input_file,
            memory=runner.relocated_memory,
            public_memory_addresses=runner.segments.get_public_memory_addresses(
                segment_offsets=runner.get_segment_offsets()
            ),
            memory_segment_addresses=runner.get_memory_segment_addresses(),
            trace=runner.relocated_trace,
            rc_min=rc_min,
            rc_max=rc_max,
        )
