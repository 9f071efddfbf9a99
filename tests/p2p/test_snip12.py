"""SNIP-12 revision 1 hashes, checked against starknet-py's TypedData."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from poseidon_py.poseidon_hash import poseidon_hash_many as reference_poseidon
from starknet_py.cairo.felt import encode_shortstring
from starknet_py.utils.typed_data import TypedData

from p2p.messages import Assignment, Bid, JobHeader, StreamReply, StreamSession, WitnessNotice
from p2p.snip12 import message_hash, poseidon_hash_many, struct_type, typed_data
from p2p.stark import STARK_PRIME
from tests.strategies import assignments, bids, felts, headers, notices, replies, sessions

SN_SEPOLIA = encode_shortstring("SN_SEPOLIA")


def reference_hash(message, chain_id: int, signer: int) -> int:
    return TypedData.from_dict(typed_data(message, chain_id)).message_hash(signer)


@given(headers)
@settings(max_examples=25, deadline=None)
def test_header_hash_equals_starknet_py(header: JobHeader) -> None:
    expected = reference_hash(header, header.chain_id, header.delegator)
    assert message_hash(header, header.chain_id, header.delegator) == expected


@given(bids, felts)
@settings(max_examples=15, deadline=None)
def test_bid_hash_equals_starknet_py(bid: Bid, chain_id: int) -> None:
    assert message_hash(bid, chain_id, bid.executor) == reference_hash(bid, chain_id, bid.executor)


@given(assignments, felts, felts)
@settings(max_examples=15, deadline=None)
def test_assignment_hash_equals_starknet_py(assignment: Assignment, chain_id: int, signer: int):
    expected = reference_hash(assignment, chain_id, signer)
    assert message_hash(assignment, chain_id, signer) == expected


@given(notices, felts)
@settings(max_examples=15, deadline=None)
def test_witness_notice_hash_equals_starknet_py(notice: WitnessNotice, chain_id: int) -> None:
    expected = reference_hash(notice, chain_id, notice.executor)
    assert message_hash(notice, chain_id, notice.executor) == expected


@given(sessions, felts)
@settings(max_examples=10, deadline=None)
def test_stream_session_hash_equals_starknet_py(session: StreamSession, chain_id: int) -> None:
    expected = reference_hash(session, chain_id, session.executor)
    assert message_hash(session, chain_id, session.executor) == expected


@given(replies, felts, felts)
@settings(max_examples=10, deadline=None)
def test_stream_reply_hash_equals_starknet_py(reply: StreamReply, chain_id: int, signer: int):
    assert message_hash(reply, chain_id, signer) == reference_hash(reply, chain_id, signer)


def test_stream_types_are_the_documented_structs() -> None:
    # A cheat report is checked on chain against these strings: they are part of the protocol.
    assert struct_type(StreamSession) == (
        '"StreamSession"("job_hash":"felt","executor":"ContractAddress",'
        '"session_key":"felt","expires_at":"timestamp")'
    )
    assert struct_type(StreamReply) == (
        '"StreamReply"("job_hash":"felt","time_from_ms":"u128","time_to_ms":"u128",'
        '"input_hash":"u256","output_hash":"u256")"u256"("low":"u128","high":"u128")'
    )


def test_header_type_is_the_documented_struct() -> None:
    # The Registry contract recomputes this hash on chain: this string is part of the protocol.
    assert struct_type(JobHeader) == (
        '"JobHeader"("chain_id":"shortstring","registry":"ContractAddress",'
        '"delegator":"ContractAddress","body_id":"u256","program_hash":"felt",'
        '"max_steps":"u128","reward":"u256","deadline":"timestamp","nonce":"felt")'
        '"u256"("low":"u128","high":"u128")'
    )


@given(headers, st.data())
@settings(max_examples=10, deadline=None)
def test_hash_depends_on_chain_signer_and_every_field(header: JobHeader, data) -> None:
    base = message_hash(header, SN_SEPOLIA, header.delegator)
    assert message_hash(header, SN_SEPOLIA + 1, header.delegator) != base
    assert message_hash(header, SN_SEPOLIA, (header.delegator + 1) % STARK_PRIME) != base
    field = data.draw(st.sampled_from([f.name for f in dataclasses.fields(header)]))
    value = getattr(header, field)
    if isinstance(value, bytes):
        changed = bytes([value[0] ^ 1]) + value[1:]
    else:
        changed = value - 1 if value else 1
    other = JobHeader(**{**header.__dict__, field: changed})
    assert message_hash(other, SN_SEPOLIA, header.delegator) != base


@given(st.lists(felts, max_size=24))
@example([STARK_PRIME - 1, 0, 2**128 - 1])
@settings(max_examples=300, deadline=None)
def test_poseidon_equals_poseidon_py(values: list[int]) -> None:
    assert poseidon_hash_many(values) == reference_poseidon(values)


@pytest.mark.parametrize("value", [STARK_PRIME, 2**256 - 1, 2**256, -1])
def test_poseidon_refuses_values_outside_the_field(value: int) -> None:
    with pytest.raises((ValueError, OverflowError)):
        poseidon_hash_many([1, value])


@given(headers)
@settings(max_examples=3, deadline=None)
def test_message_hash_refuses_a_signer_outside_the_field(header: JobHeader) -> None:
    with pytest.raises(ValueError):
        message_hash(header, header.chain_id, STARK_PRIME)
