"""`python -m cairo_jobs.native prove PUBLIC_INPUT TRACE MEMORY OUT [parameters]`: proves a
proof-mode run into a native proof file (the child process of the `native` backend).

Exit status 0 on success, 2 for bad arguments, 3 when the run cannot be proved (the message on
stderr says why).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cairo_jobs.native.parameters import Parameters
from cairo_jobs.native.proof_file import PARAMETER_NAMES, prove_run
from cairo_jobs.native.prover import UnsatisfiedTrace


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cairo_jobs.native", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    prove = commands.add_parser("prove", help="prove a proof-mode run")
    for name in ("public_input", "trace", "memory", "out"):
        prove.add_argument(name, type=Path)
    defaults = Parameters().as_list()
    for name, default in zip(PARAMETER_NAMES, defaults, strict=True):
        prove.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args(argv)
    try:
        parameters = Parameters(*(getattr(args, n.replace("-", "_")) for n in PARAMETER_NAMES))
    except ValueError as err:
        parser.error(str(err))
    try:
        bits = prove_run(args.public_input, args.trace, args.memory, parameters, args.out)
    except (OSError, ValueError, UnsatisfiedTrace) as err:
        print(f"cannot prove: {err}", file=sys.stderr)
        return 3
    print(f"proved: {args.out} ({bits} conjectured bits)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
