"""cairo-run's `dynamic` layout sized for the native AIR, for small runs with builtins.

cairo-run's named layouts with the poseidon or bitwise builtin also carry a diluted pool (for
bitwise) that pads every proof-mode run to 2^14 steps or more. The dynamic layout takes its
builtins and ratios from a JSON file: with only the builtins a program uses, each builtin with
a component (`registry.COMPONENTS`) at one instance per `rows` steps (the native AIR's
capacity) and range_check at one cell per 8 steps, a run is as short as its own steps. The AIR
does not depend on the layout.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from cairo_jobs.model import ProofArtifacts
from cairo_jobs.native.registry import COMPONENTS

RATIOS = {"range_check": 8} | {component.name: component.rows for component in COMPONENTS}
BUILTINS = ("pedersen", "range_check", "ecdsa", "bitwise", "ec_op", "keccak", "poseidon")
LOW_RATIO_BUILTINS = ("range_check96", "add_mod", "mul_mod")


def params(builtins: Iterable[str]) -> dict[str, int]:
    """The layout parameters (`--cairo_layout_params_file`) with these builtins used."""
    used = set(builtins) - {"output"}
    if not used <= RATIOS.keys():
        raise ValueError(f"only {', '.join(RATIOS)} have a ratio here, not {sorted(used)}")
    layout = {
        "cpu_component_step": 1,
        "rc_units": 4,
        "memory_units_per_step": 8,
        # cairo-run's diluted pool: 2^16 holes, and bitwise instances take some cells too
        "log_diluted_units_per_step": 8 if "bitwise" in used else 7,
    }
    for name in (*BUILTINS, *LOW_RATIO_BUILTINS):
        layout[f"uses_{name}_builtin"] = int(name in used)
        layout[f"{name}_ratio"] = RATIOS[name] if name in used else 0
    layout.update({f"{name}_ratio_den": 1 for name in LOW_RATIO_BUILTINS})
    return layout


def artifacts_in(work_dir: Path) -> ProofArtifacts:
    """Where a run in `work_dir` writes its proof-mode files."""
    names = ("public_input.json", "private_input.json", "trace.bin", "memory.bin")
    return ProofArtifacts(*(work_dir / name for name in names))


def cairo_run_args(program: Path, params_file: Path, artifacts: ProofArtifacts) -> list[str]:
    """cairo-run's arguments (after the command) for a proof-mode run in this layout."""
    return [
        "--program", str(program), "--layout", "dynamic", "--proof_mode",
        "--cairo_layout_params_file", str(params_file),
        "--air_public_input", str(artifacts.public_input),
        "--air_private_input", str(artifacts.private_input),
        "--trace_file", str(artifacts.trace), "--memory_file", str(artifacts.memory),
    ]  # fmt: skip
