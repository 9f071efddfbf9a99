"""One local network (devnet, contracts) shared by the end-to-end modules: each starts its
own nodes in `LocalNetwork.scoped()` and uses its own accounts (see `ACCOUNTS`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from node.localnet import LocalNetwork

ACCOUNTS = 10
"""test_roles_e2e uses accounts 0-7, test_synthetic_e2e 0 (the FactRegistry's verifier), 8, 9."""


@pytest.fixture(scope="session")
def localnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    with LocalNetwork(tmp_path_factory.mktemp("localnet"), accounts=ACCOUNTS, seed=5) as net:
        yield net
