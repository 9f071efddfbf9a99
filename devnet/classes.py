"""Contract classes: hashes, the committed artifacts, and Sierra -> CASM compilation on declare.

Class hashes follow the Starknet definition (Poseidon over the Sierra class, the ABI hashed as the
exact string that was declared). Compiled class hashes use Blake2s, as Starknet does since 0.14.1
and as starknet-py 0.30 computes them by default; the devnet recompiles every declared Sierra class
itself and refuses a declare whose compiled class hash differs from that of its own CASM.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from starknet_py.common import create_casm_class, create_sierra_compiled_contract
from starknet_py.hash.casm_class_hash import compute_casm_class_hash
from starknet_py.hash.sierra_class_hash import compute_sierra_class_hash

from devnet.errors import CompilationFailed
from devnet.toolchain import SIERRA_TO_CASM, artifact_paths

COMPILE_TIMEOUT_S = 120


@dataclass(frozen=True)
class DeclaredClass:
    """A class as the chain stores it: Sierra (with its ABI as a string) and CASM."""

    class_hash: int
    compiled_class_hash: int
    sierra: dict[str, Any]
    casm: dict[str, Any]


def sierra_class_hash(sierra: dict[str, Any]) -> int:
    """Class hash of a Sierra class in RPC form (`abi` is a string)."""
    return compute_sierra_class_hash(create_sierra_compiled_contract(json.dumps(sierra)))


def compiled_class_hash(casm: dict[str, Any]) -> int:
    """Blake2s compiled class hash of a CASM class."""
    return compute_casm_class_hash(create_casm_class(json.dumps(casm)))


def rpc_sierra(sierra_artifact: dict[str, Any]) -> dict[str, Any]:
    """A compiler's Sierra output in the form a client declares it (ABI as a JSON string)."""
    contract = create_sierra_compiled_contract(json.dumps(sierra_artifact))
    return {
        "sierra_program": sierra_artifact["sierra_program"],
        "contract_class_version": sierra_artifact["contract_class_version"],
        "entry_points_by_type": sierra_artifact["entry_points_by_type"],
        "abi": contract.abi,
    }


def compile_casm(sierra: dict[str, Any], cache_dir: Path | None = None) -> dict[str, Any]:
    """Compile a Sierra class to CASM with pythonic hints, cached by the Sierra program's digest."""
    program = {k: sierra[k] for k in ("sierra_program", "contract_class_version",
                                      "entry_points_by_type")}
    text = json.dumps({**program, "abi": []}, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()
    cached = cache_dir / f"{digest}.casm.json" if cache_dir else None
    if cached and cached.is_file():
        return json.loads(cached.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "class.sierra.json", Path(tmp) / "class.casm.json"
        source.write_text(text)
        try:
            done = subprocess.run(
                [str(SIERRA_TO_CASM), "--add-pythonic-hints", str(source), str(target)],
                capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise CompilationFailed(f"compilation exceeded {COMPILE_TIMEOUT_S}s") from exc
        if done.returncode != 0:
            raise CompilationFailed((done.stderr or done.stdout).strip()[-2000:])
        casm_text = target.read_text()
    if cached:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(casm_text)
    return json.loads(casm_text)


@cache
def builtin_class(name: str) -> DeclaredClass:
    """One of the devnet's own contracts (erc20, account, udc, sample) from committed artifacts."""
    sierra_path, casm_path = artifact_paths(name)
    sierra = rpc_sierra(json.loads(sierra_path.read_text()))
    casm = json.loads(casm_path.read_text())
    return DeclaredClass(sierra_class_hash(sierra), compiled_class_hash(casm), sierra, casm)
