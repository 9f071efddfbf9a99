"""The committed contract artifacts are what the toolchain builds from the committed sources."""

from pathlib import Path

import pytest

from devnet.toolchain import ToolchainError, compile_contract, ensure_compiler, stale_artifacts


@pytest.fixture(scope="module")
def compiler() -> Path:
    return ensure_compiler()


def test_committed_artifacts_match_sources(compiler: Path) -> None:
    assert stale_artifacts(compiler) == []


def test_compile_error_names_the_problem(compiler: Path, tmp_path: Path) -> None:
    source = tmp_path / "broken.cairo"
    source.write_text("#[starknet::contract]\nmod Broken { fn f( }\n")
    with pytest.raises(ToolchainError, match="starknet-compile failed"):
        compile_contract(source, compiler)
