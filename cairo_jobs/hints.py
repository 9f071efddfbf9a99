"""Which Python hints a program may run.

Hints are arbitrary Python executed by the worker, and job bodies come from strangers, so an
executor should only run hints it has vetted: pass an allow-list of hint codes (for instance
`cairo_jobs.examples.example_hints()`) as `RunRequest.allowed_hints`.
"""

from __future__ import annotations

from collections.abc import Set

from starkware.cairo.lang.compiler.program import Program

from cairo_jobs.failures import FailureReason, RunFailure


def hint_codes(program: Program) -> frozenset[str]:
    """The code of every hint in the program."""
    return frozenset(hint.code for hints in program.hints.values() for hint in hints)


def check_hints(program: Program, allowed: Set[str]) -> None:
    """Raises FORBIDDEN_HINT naming the first hint whose code is not in `allowed`."""
    for pc, hints in sorted(program.hints.items()):
        for hint in hints:
            if hint.code not in allowed:
                first_line = hint.code.strip().splitlines()[0][:120] if hint.code.strip() else ""
                raise RunFailure(
                    FailureReason.FORBIDDEN_HINT,
                    f"the hint at pc={pc} ({first_line!r}) is not on this executor's allow-list; "
                    "use only vetted library hints or ask the operator to allow it",
                )
