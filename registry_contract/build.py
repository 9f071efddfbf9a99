"""Compile the Registry and FactRegistry sources with the devnet's Cairo 1 toolchain.

    python -m registry_contract.build build   # write registry_contract/build/*.json
    python -m registry_contract.build check   # exit 1 if the committed artifacts are stale

The artifacts are committed with `class_hashes.json`, the class and compiled class hashes they
declare as, so that anyone can check a deployed class against the sources.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

from devnet.classes import compiled_class_hash, rpc_sierra, sierra_class_hash
from devnet.toolchain import (
    DEFAULT_CACHE,
    ToolchainError,
    artifact_paths,
    compile_contract,
    ensure_compiler,
)

PACKAGE_DIR = Path(__file__).resolve().parent
SOURCES_DIR = PACKAGE_DIR / "src"
BUILD_DIR = PACKAGE_DIR / "build"
CONTRACTS = ("fact_registry", "registry")
HASHES_FILE = "class_hashes.json"

logger = logging.getLogger(__name__)


def _text(obj: dict) -> str:
    return json.dumps(obj, indent=1, sort_keys=True) + "\n"


def class_hashes(build_dir: Path = BUILD_DIR) -> dict[str, dict[str, str]]:
    """{contract: {class_hash, compiled_class_hash}} computed from the artifacts in `build_dir`."""
    hashes = {}
    for name in CONTRACTS:
        sierra_path, casm_path = artifact_paths(name, build_dir)
        sierra = rpc_sierra(json.loads(sierra_path.read_text()))
        casm = json.loads(casm_path.read_text())
        hashes[name] = {"class_hash": hex(sierra_class_hash(sierra)),
                        "compiled_class_hash": hex(compiled_class_hash(casm))}
    return hashes


def build(compiler: Path, build_dir: Path = BUILD_DIR) -> dict[str, dict[str, str]]:
    """Compile every contract into `build_dir`, write its class hashes; return them."""
    build_dir.mkdir(parents=True, exist_ok=True)
    for name in CONTRACTS:
        sierra, casm = compile_contract(SOURCES_DIR / f"{name}.cairo", compiler)
        sierra_path, casm_path = artifact_paths(name, build_dir)
        sierra_path.write_text(_text(sierra))
        casm_path.write_text(_text(casm))
        logger.info("compiled contract", extra={"contract": name})
    hashes = class_hashes(build_dir)
    (build_dir / HASHES_FILE).write_text(_text(hashes))
    return hashes


def stale_artifacts(compiler: Path) -> list[str]:
    """Names of the committed files that differ from a fresh build."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh_dir = Path(tmp)
        build(compiler, fresh_dir)
        names = [path.name for name in CONTRACTS for path in artifact_paths(name, fresh_dir)]
        names.append(HASHES_FILE)
        return [name for name in names
                if not (BUILD_DIR / name).is_file()
                or (BUILD_DIR / name).read_text() != (fresh_dir / name).read_text()]


def main(argv: list[str] | None = None) -> int:
    """Command line: `build` the artifacts or `check` that they match the sources."""
    parser = argparse.ArgumentParser(prog="python -m registry_contract.build", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["build", "check"])
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        compiler = ensure_compiler(args.cache_dir)
        if args.command == "build":
            print(json.dumps(build(compiler), indent=1))
            return 0
        stale = stale_artifacts(compiler)
    except ToolchainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if stale:
        print("stale artifacts (run `python -m registry_contract.build build`):", ", ".join(stale))
        return 1
    print("artifacts match their sources")
    return 0


if __name__ == "__main__":
    sys.exit(main())
