"""Example Cairo 0 job programs, their input formats and a sample input for each.

Each program's first source line documents its input and output. `compiled(name)` compiles it in
proof mode (so it runs in both modes) to the JSON a job body carries.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cairo_jobs.program import compile_source

SOURCE_DIR = Path(__file__).parent


@dataclass(frozen=True)
class Example:
    """One example program: its name, the layout it needs and a sample input."""

    name: str
    layout: str
    sample_input: dict[str, Any] = field(hash=False)

    @property
    def path(self) -> Path:
        return SOURCE_DIR / f"{self.name}.cairo"

    @property
    def summary(self) -> str:
        """The one-line description (input and output format) from the source's first line."""
        return self.path.read_text().splitlines()[0].removeprefix("// ")


EXAMPLES: dict[str, Example] = {
    example.name: example
    for example in (
        Example("fibonacci", "small", {"n": 10}),
        Example("poseidon_chain", "recursive_with_poseidon", {"seed": 7, "n": 10}),
        Example("pedersen_range", "small", {"values": [1, 2, 3, 100], "bound": 1000}),
        Example("merkle_root", "small", {"leaves": [1, 2, 3, 4, 5, 6, 7, 8]}),
        Example("long_loop", "small", {"n": 1000, "x": 3}),
        Example("stream_digest", "small", {"request": [1, 2, 3]}),
        Example("stream_squares", "small", {"request": [1, 2, 3]}),
        Example("squares", "small", {"seed": 5, "n": 8}),
        Example("bounded_sum", "small", {"values": [3, 10, 7, 25], "low": 2, "high": 30}),
        Example(
            "bitwise_mix",
            "recursive",
            {"values": [3, 5, 2**250 + 7, 0xF0F0, 2**128 - 1, 12345678901234567890, 99, 6]},
        ),
    )
}


HINTS_FILE = SOURCE_DIR / "hints.json"


@functools.cache
def example_hints() -> frozenset[str]:
    """Every hint code the examples use (theirs and the library's): a vetted allow-list.

    Read from hints.json (computing it compiles every example: seconds); a test keeps the file
    equal to the examples' hints.
    """
    return frozenset(json.loads(HINTS_FILE.read_text()))


@functools.cache
def compiled(name: str) -> bytes:
    """The example's compiled program JSON (proof mode, no debug info)."""
    example = EXAMPLES[name]
    return compile_source(example.path.read_text(), name=example.path.name)
