"""A devnet with the FactRegistry and Registry deployed, and three funded parties."""

from __future__ import annotations

import asyncio
import json
import secrets
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from starknet_py.hash.selector import get_selector_from_name
from starknet_py.net.account.account import Account
from starknet_py.net.client_models import Call, ResourceBounds, ResourceBoundsMapping
from starknet_py.net.full_node_client import FullNodeClient
from starknet_py.net.signer.key_pair import KeyPair

from devnet.check import FEE_TOKEN
from devnet.spawn import DevnetProcess
from p2p.messages import Assignment, JobHeader, SignedAssignment, SignedJobHeader
from p2p.signing import job_hash, sign_assignment, sign_header
from p2p.stark import StarkKeyPair
from registry_contract.client import FactRegistryClient, RegistryClient
from registry_contract.deploy import Deployment, deploy

MIN_SECURITY_BITS = 96
WITHDRAWAL_DELAY_S = 8
FIXED_BOUNDS = ResourceBoundsMapping(
    l1_gas=ResourceBounds(max_amount=0, max_price_per_unit=10**12),
    l1_data_gas=ResourceBounds(max_amount=10**4, max_price_per_unit=10**10),
    l2_gas=ResourceBounds(max_amount=10**8, max_price_per_unit=10**10),
)
"""Bounds that skip fee estimation (one Cairo run per transaction, not two); a refused
transaction then reverts on chain and shows that nothing moved."""


@dataclass
class Party:
    """A funded account with its signing key and its clients of both contracts."""

    account: Account
    key: StarkKeyPair
    registry: RegistryClient
    facts: FactRegistryClient

    @property
    def address(self) -> int:
        return self.account.address


@dataclass
class World:
    """A devnet with the contracts deployed: a delegator (FactRegistry owner), two executors."""

    devnet: DevnetProcess
    deployment: Deployment
    chain_id: int
    delegator: Party
    executor: Party
    other: Party

    def header(self, **changes: Any) -> JobHeader:
        """A fresh job of the delegator on this chain and registry (fields overridable)."""
        fields: dict[str, Any] = {
            "chain_id": self.chain_id,
            "registry": self.deployment.registry,
            "delegator": self.delegator.address,
            "body_id": secrets.token_bytes(32),
            "program_hash": secrets.randbits(250),
            "max_steps": 10**6,
            "reward": 10**15,
            "deadline": 2**40,
            "nonce": secrets.randbits(64),
        }
        return JobHeader(**{**fields, **changes})

    def sign(self, header: JobHeader, key: StarkKeyPair | None = None) -> SignedJobHeader:
        return sign_header(header, key or self.delegator.key)

    def assign(
        self, header: JobHeader, executor: int, window_end: int, key: StarkKeyPair | None = None
    ) -> SignedAssignment:
        assignment = Assignment(job_hash(header), executor, window_end, 0)
        return sign_assignment(
            assignment, header.chain_id, header.delegator, key or self.delegator.key
        )


def make_account(url: str, chain_id: int, info: dict[str, str]) -> tuple[Account, StarkKeyPair]:
    key = StarkKeyPair.from_private_key(int(info["private_key"], 16))
    account = Account(
        client=FullNodeClient(node_url=url),
        address=int(info["address"], 16),
        key_pair=KeyPair.from_private_key(key.private_key),
        chain=chain_id,
    )
    return account, key


def make_party(url: str, chain_id: int, info: dict[str, str], deployment: Deployment) -> Party:
    account, key = make_account(url, chain_id, info)
    registry = RegistryClient(account, deployment.registry, deployment.token, FIXED_BOUNDS)
    return Party(
        account, key, registry, FactRegistryClient(account, deployment.fact_registry, FIXED_BOUNDS)
    )


async def make_world(devnet: DevnetProcess) -> World:
    chain_id = int(devnet.info["chain_id"], 16)
    infos = devnet.info["accounts"]
    owner, _ = make_account(devnet.url, chain_id, infos[0])
    deployment = await deploy(
        owner, FEE_TOKEN, min_security_bits=MIN_SECURITY_BITS, withdrawal_delay=WITHDRAWAL_DELAY_S
    )
    parties = [make_party(devnet.url, chain_id, info, deployment) for info in infos[:3]]
    await parties[0].facts.add_verifier(parties[0].address)
    return World(devnet, deployment, chain_id, *parties)


@pytest.fixture(scope="package")
def world() -> Iterator[World]:
    """One devnet for the modules that use it (each test works on its own jobs and amounts)."""
    with DevnetProcess("--accounts", "3", "--seed", "11") as devnet:
        yield asyncio.run(make_world(devnet))


async def token_balances(account: Account, addresses: Sequence[int]) -> list[int]:
    """The fee token ("STRK") balances of `addresses`."""
    balances = []
    for address in addresses:
        call = Call(to_addr=FEE_TOKEN, selector=BALANCE_OF, calldata=[address])
        low, high = await account.client.call_contract(call)
        balances.append(low + (high << 128))
    return balances


BALANCE_OF = get_selector_from_name("balance_of")


def create_block(url: str) -> None:
    """Close the current block: the devnet stamps a block with the time its predecessor closed."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "devnet_createBlock"}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        assert "result" in json.loads(reply.read())
