"""Cairo 1 toolchain: fetch the compiler from a cairo-lang sdist and build the devnet contracts.

The Cairo 1 compiler bundled in the installed cairo-lang cannot compile contracts (its corelib is
incomplete), so `starknet-compile` (Cairo -> Sierra) comes from the cairo-lang 0.12.3 sdist on PyPI
(compiler 2.1.0, complete corelib), downloaded once into a cache directory with pip. Sierra -> CASM
uses the `starknet-sierra-compile` bundled with the installed cairo-lang, with pythonic hints so
that cairo-lang's Python VM can run the result.

    python -m devnet.toolchain build   # compile devnet/contracts/src/*.cairo into build/
    python -m devnet.toolchain check   # exit 1 if the committed artifacts differ from the sources
"""

from __future__ import annotations

import argparse
import json
import logging
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import starkware.starknet.compiler.v1 as bundled_compiler

logger = logging.getLogger(__name__)

SDIST_REQUIREMENT = "cairo-lang==0.12.3"
SDIST_NAME = "cairo-lang-0.12.3.zip"
SDIST_COMPILER_DIR = "cairo-lang-0.12.3/starkware/starknet/compiler/v1/sierra-compiler-major-1/"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = REPO_ROOT / ".cache" / "cairo-compiler"
CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
SOURCES_DIR = CONTRACTS_DIR / "src"
BUILD_DIR = CONTRACTS_DIR / "build"
SIERRA_TO_CASM = (
    Path(bundled_compiler.__file__).parent / "sierra-compiler-major-1" / "bin"
    / "starknet-sierra-compile"
)
COMMAND_TIMEOUT_S = 300


class ToolchainError(RuntimeError):
    """A compiler could not be fetched or a compilation failed."""


def _run(args: list[str]) -> None:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise ToolchainError(f"{args[0]} timed out after {COMMAND_TIMEOUT_S}s") from exc
    if done.returncode != 0:
        raise ToolchainError(f"{Path(args[0]).name} failed:\n{done.stderr or done.stdout}")


def ensure_compiler(cache_dir: Path = DEFAULT_CACHE) -> Path:
    """Return the Cairo -> Sierra compiler binary, downloading the sdist into the cache once."""
    compiler = cache_dir / "sierra-compiler-major-1" / "bin" / "starknet-compile"
    if compiler.is_file():
        return compiler
    cache_dir.mkdir(parents=True, exist_ok=True)
    sdist = cache_dir / SDIST_NAME
    if not sdist.is_file():
        logger.info("downloading compiler sdist", extra={"requirement": SDIST_REQUIREMENT})
        _run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
              "--no-binary", ":all:", SDIST_REQUIREMENT, "-d", str(cache_dir)])
    _extract_compiler(sdist, cache_dir)
    return compiler


def _extract_compiler(sdist: Path, cache_dir: Path) -> None:
    with zipfile.ZipFile(sdist) as archive:
        for member in archive.namelist():
            if not member.startswith(SDIST_COMPILER_DIR) or member.endswith("/"):
                continue
            target = cache_dir / member[len("cairo-lang-0.12.3/starkware/starknet/compiler/v1/"):]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(member))
            if "/bin/" in member:
                target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def compile_contract(source: Path, compiler: Path) -> tuple[dict, dict]:
    """Compile one Cairo 1 contract file; return its (Sierra class, CASM class) as JSON objects."""
    with tempfile.TemporaryDirectory() as tmp:
        sierra_path = Path(tmp) / "contract.sierra.json"
        casm_path = Path(tmp) / "contract.casm.json"
        _run([str(compiler), "--single-file", str(source), str(sierra_path)])
        _run([str(SIERRA_TO_CASM), "--add-pythonic-hints", str(sierra_path), str(casm_path)])
        return json.loads(sierra_path.read_text()), json.loads(casm_path.read_text())


def artifact_paths(name: str, build_dir: Path = BUILD_DIR) -> tuple[Path, Path]:
    """Paths of the committed Sierra and CASM artifacts of contract `name`."""
    return build_dir / f"{name}.sierra.json", build_dir / f"{name}.casm.json"


def _dump(obj: dict) -> str:
    return json.dumps(obj, indent=1, sort_keys=True) + "\n"


def build(compiler: Path, build_dir: Path = BUILD_DIR) -> list[str]:
    """Compile every source into `build_dir`; return the contract names."""
    build_dir.mkdir(parents=True, exist_ok=True)
    names = []
    for source in sorted(SOURCES_DIR.glob("*.cairo")):
        sierra, casm = compile_contract(source, compiler)
        sierra_path, casm_path = artifact_paths(source.stem, build_dir)
        sierra_path.write_text(_dump(sierra))
        casm_path.write_text(_dump(casm))
        names.append(source.stem)
        logger.info("compiled contract", extra={"contract": source.stem})
    return names


def stale_artifacts(compiler: Path) -> list[str]:
    """Names of contracts whose committed artifacts differ from a fresh compilation."""
    with tempfile.TemporaryDirectory() as tmp:
        build(compiler, Path(tmp))
        stale = []
        for source in sorted(SOURCES_DIR.glob("*.cairo")):
            fresh = artifact_paths(source.stem, Path(tmp))
            committed = artifact_paths(source.stem)
            if any(not c.is_file() or c.read_text() != f.read_text()
                   for f, c in zip(fresh, committed, strict=True)):
                stale.append(source.stem)
        return stale


def main(argv: list[str] | None = None) -> int:
    """Command line: `build` the artifacts or `check` that they match the sources."""
    parser = argparse.ArgumentParser(prog="python -m devnet.toolchain", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["build", "check"])
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        compiler = ensure_compiler(args.cache_dir)
        if args.command == "build":
            print("built:", ", ".join(build(compiler)))
            return 0
        stale = stale_artifacts(compiler)
    except ToolchainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if stale:
        print("stale artifacts (run `python -m devnet.toolchain build`):", ", ".join(stale))
        return 1
    print("artifacts match their sources")
    return 0


if __name__ == "__main__":
    sys.exit(main())
