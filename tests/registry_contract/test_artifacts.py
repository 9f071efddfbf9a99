"""The committed Registry artifacts are what the toolchain builds from the committed sources."""

import json
import re

from devnet.toolchain import SOURCES_DIR as DEVNET_SOURCES
from devnet.toolchain import ensure_compiler
from registry_contract import build
from registry_contract.client import Refusal


def test_committed_artifacts_and_class_hashes_match_sources() -> None:
    assert build.stale_artifacts(ensure_compiler()) == []


def test_recorded_class_hashes_are_those_of_the_artifacts() -> None:
    recorded = json.loads((build.BUILD_DIR / build.HASHES_FILE).read_text())
    assert recorded == build.class_hashes()


def test_every_refusal_the_client_knows_is_a_contract_message() -> None:
    sources = [*build.SOURCES_DIR.glob("*.cairo"), DEVNET_SOURCES / "erc20.cairo"]
    messages = {
        m for path in sources for m in re.findall(r"'([A-Za-z0-9]+: [^'\n]+)'", path.read_text())
    }
    assert {refusal.value for refusal in Refusal} <= messages
    assert all(len(refusal.value) <= 31 for refusal in Refusal)
