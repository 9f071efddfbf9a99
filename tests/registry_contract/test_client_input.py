"""Bad input to the client fails before anything is sent, with a message that names it."""

import asyncio

import pytest
from starknet_py.net.account.account import Account
from starknet_py.net.full_node_client import FullNodeClient
from starknet_py.net.signer.key_pair import KeyPair

from p2p.messages import JobHeader, SignedJobHeader
from registry_contract.client import Refusal, RegistryClient, refusal_in

UNREACHABLE = "http://127.0.0.1:9/rpc"  # any network use would fail with a connection error


def client() -> RegistryClient:
    account = Account(
        client=FullNodeClient(node_url=UNREACHABLE),
        address=0x123,
        key_pair=KeyPair.from_private_key(7),
        chain=0x534E5F5345504F4C4941,
    )
    return RegistryClient(account, registry=0x456, token=0x789)


@pytest.mark.parametrize("amount", [-1, 2**256, 1.5, True, "10"])
def test_bad_amounts_are_refused_locally(amount: object) -> None:
    with pytest.raises(ValueError, match="is not a u256"):
        asyncio.run(client().deposit(amount))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="is not a u256"):
        asyncio.run(client().request_withdrawal(amount))  # type: ignore[arg-type]


@pytest.mark.parametrize("output", [[-1], [2**251 + 17 * 2**192 + 1], ["7"]])
def test_output_that_is_not_felts_is_refused_locally(output: list[object]) -> None:
    header = JobHeader(1, 2, 3, bytes(32), 4, 5, 6, 7, 8)
    with pytest.raises(ValueError, match="is not a felt"):
        asyncio.run(client().submit_witness(SignedJobHeader(header, (1, 2)), output))


def test_refusals_are_read_from_node_messages() -> None:
    estimate = (
        "Transaction execution error: Execution failed. Failure reason: "
        "0x52656769737472793a206e6f7468696e672070656e64696e67 "
        "('Registry: nothing pending')."
    )
    assert refusal_in(estimate) == Refusal.NOTHING_PENDING
    assert refusal_in("Execution failed: 'Registry: zero amount'") == Refusal.ZERO_AMOUNT
    assert refusal_in("Registry: zero amount, unquoted") is None
    assert refusal_in("out of gas") is None
