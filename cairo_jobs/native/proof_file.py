"""The native proof file: JSON {"format": FORMAT, "public_input": cairo-run's public input,
"proof": the STARK proof bytes in hex}, and proving a proof-mode run into one.

Kept free of the compiler and the chain libraries, so the prover's child process starts fast.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cairo_jobs.native import cairo_trace, prover
from cairo_jobs.native.cairo_air import CairoAir
from cairo_jobs.native.cairo_trace import PublicInput
from cairo_jobs.native.parameters import Parameters
from cairo_jobs.native.proof import MAX_PROOF_BYTES

FORMAT = "native-stark/1"
PARAMETER_NAMES = ("log-blowup", "n-queries", "pow-bits", "log-last-layer-degree")
MAX_FILE_BYTES = 2 * MAX_PROOF_BYTES + 64 * 1024 * 1024  # the proof in hex, the public input


@dataclass(frozen=True)
class ProofFile:
    """A proof file's parts: the public input as written and parsed, and the proof bytes."""

    public_input: dict[str, Any]
    public: PublicInput
    data: bytes


def prove_run(
    public_input: Path, trace: Path, memory: Path, parameters: Parameters, out: Path
) -> int:
    """Proves a proof-mode run into the proof file `out`; returns its security bits."""
    columns, public = cairo_trace.trace_columns(public_input, trace, memory)
    data = prover.prove(CairoAir(public), columns, parameters)
    document = {
        "format": FORMAT,
        "public_input": json.loads(public_input.read_text()),
        "proof": data.hex(),
    }
    out.write_text(json.dumps(document))
    return parameters.security_bits(public.log_rows + parameters.log_blowup)


def read(path: Path) -> ProofFile:
    """The proof file's parts; ValueError (or cairo_trace.ArtifactError) names what is wrong."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ValueError(f"the proof file has {size} bytes, more than the {MAX_FILE_BYTES} allowed")
    document = json.loads(path.read_text())
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} proof file")
    if not isinstance(document.get("proof"), str):
        raise ValueError("the proof file has no hex proof")
    public = PublicInput.from_json(document.get("public_input"))
    return ProofFile(document["public_input"], public, bytes.fromhex(document["proof"]))
