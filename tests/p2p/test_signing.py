"""Signatures over headers, bids and assignments; Stark ECDSA against starknet-py."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starknet_py.hash.utils import message_signature, private_to_stark_key
from starknet_py.utils.typed_data import TypedData

from p2p import stark
from p2p.messages import (
    Assignment,
    Bid,
    SignedJobHeader,
    StreamReply,
    StreamSession,
    felts_digest,
)
from p2p.signing import (
    KnownPublicKeys,
    assignment_is_signed,
    bid_is_signed,
    header_is_signed,
    job_hash,
    reply_is_signed,
    session_is_signed,
    sign_assignment,
    sign_bid,
    sign_header,
    sign_reply,
    sign_session,
)
from p2p.snip12 import typed_data
from p2p.stark import EC_ORDER, STARK_PRIME, StarkKeyPair
from tests.p2p.test_codec import HEADER

DELEGATOR_KEY = StarkKeyPair.from_private_key(0x1234567890ABCDEF)
EXECUTOR_KEY = StarkKeyPair.from_private_key(0xFEDCBA0987654321)
SESSION_KEY = StarkKeyPair.from_private_key(0x5E5510)
EXECUTOR = 0xE0
KEYS = KnownPublicKeys(
    {HEADER.delegator: DELEGATOR_KEY.public_key, EXECUTOR: EXECUTOR_KEY.public_key}
)
CHAIN = HEADER.chain_id


@given(st.integers(1, EC_ORDER - 1), st.integers(1, 2**251 - 1))  # starknet-py fails on 0
@settings(max_examples=5, deadline=None)
def test_signatures_equal_starknet_py(private_key: int, message_hash: int) -> None:
    assert stark.public_key_of(private_key) == private_to_stark_key(private_key)
    assert stark.sign(private_key, message_hash) == message_signature(
        message_hash, private_key, seed=None
    )


async def test_signed_header_verifies_and_survives_the_wire() -> None:
    signed = sign_header(HEADER, DELEGATOR_KEY)
    assert await header_is_signed(SignedJobHeader.decode(signed.encode()), KEYS)


async def test_tampered_signature_is_rejected() -> None:
    signed = sign_header(HEADER, DELEGATOR_KEY)
    r, s = signed.signature
    for bad in [(r, s + 1), (r + 1, s), (s, r), (r,), (r, s, 0), ()]:
        assert not await header_is_signed(SignedJobHeader(HEADER, bad), KEYS)


async def test_tampered_header_is_rejected() -> None:
    signed = sign_header(HEADER, DELEGATOR_KEY)
    for field, value in [
        ("reward", HEADER.reward + 1),
        ("max_steps", 1),
        ("nonce", 8),
        ("body_id", b"\x08" * 32),
        ("registry", 0x1235),
    ]:
        forged = SignedJobHeader(dataclasses.replace(HEADER, **{field: value}), signed.signature)
        assert not await header_is_signed(forged, KEYS), field


async def test_header_signed_for_another_chain_is_rejected() -> None:
    other_chain = dataclasses.replace(HEADER, chain_id=HEADER.chain_id + 1)
    signed = sign_header(other_chain, DELEGATOR_KEY)
    assert not await header_is_signed(SignedJobHeader(HEADER, signed.signature), KEYS)
    assert await header_is_signed(signed, KEYS)


async def test_signature_under_another_domain_is_rejected() -> None:
    # Same struct and values under another application's domain: the signature must not carry over.
    document = typed_data(HEADER, HEADER.chain_id)
    document["domain"]["name"] = "OtherApp"
    other_hash = TypedData.from_dict(document).message_hash(HEADER.delegator)
    assert other_hash != job_hash(HEADER)
    forged = SignedJobHeader(HEADER, DELEGATOR_KEY.sign(other_hash))
    assert not await header_is_signed(forged, KEYS)


async def test_header_signed_by_someone_else_is_rejected() -> None:
    forged = sign_header(HEADER, EXECUTOR_KEY)
    assert not await header_is_signed(forged, KEYS)
    unknown = dataclasses.replace(HEADER, delegator=0xDEAD)
    assert not await header_is_signed(sign_header(unknown, DELEGATOR_KEY), KEYS)


async def test_bid_is_bound_to_chain_and_executor() -> None:
    bid = Bid(job_hash=job_hash(HEADER), executor=EXECUTOR, price=10**17, finish_by=1_800_000_100)
    signed = sign_bid(bid, CHAIN, EXECUTOR_KEY)
    assert await bid_is_signed(signed, CHAIN, KEYS)
    assert not await bid_is_signed(signed, CHAIN + 1, KEYS)
    assert not await bid_is_signed(sign_bid(bid, CHAIN, DELEGATOR_KEY), CHAIN, KEYS)


async def test_assignment_is_bound_to_chain_and_delegator() -> None:
    assignment = Assignment(job_hash(HEADER), EXECUTOR, window_end=1_800_000_200, attempt=0)
    signed = sign_assignment(assignment, CHAIN, HEADER.delegator, DELEGATOR_KEY)
    assert await assignment_is_signed(signed, CHAIN, HEADER.delegator, KEYS)
    assert not await assignment_is_signed(signed, CHAIN + 1, HEADER.delegator, KEYS)
    assert not await assignment_is_signed(signed, CHAIN, EXECUTOR, KEYS)


async def test_stream_session_is_bound_to_chain_and_executor() -> None:
    session = StreamSession(
        job_hash(HEADER), EXECUTOR, session_key=SESSION_KEY.public_key, expires_at=1_800_000_300
    )
    signed = sign_session(session, CHAIN, EXECUTOR_KEY)
    assert await session_is_signed(signed, CHAIN, KEYS)
    assert not await session_is_signed(signed, CHAIN + 1, KEYS)
    assert not await session_is_signed(sign_session(session, CHAIN, DELEGATOR_KEY), CHAIN, KEYS)
    other_key = dataclasses.replace(session, session_key=DELEGATOR_KEY.public_key)
    assert not await session_is_signed(dataclasses.replace(signed, session=other_key), CHAIN, KEYS)


def test_stream_reply_is_bound_to_session_key_job_and_executor() -> None:
    session = StreamSession(job_hash(HEADER), EXECUTOR, SESSION_KEY.public_key, 1_800_000_300)
    reply = StreamReply(
        session.job_hash,
        1_800_000_000_000,
        1_800_000_000_042,
        input_hash=felts_digest([1, 2]),
        output_hash=felts_digest([3]),
    )
    signed = sign_reply(reply, CHAIN, EXECUTOR, SESSION_KEY)
    assert reply_is_signed(signed, CHAIN, session)
    assert not reply_is_signed(signed, CHAIN + 1, session)
    assert not reply_is_signed(sign_reply(reply, CHAIN, EXECUTOR, EXECUTOR_KEY), CHAIN, session)
    assert not reply_is_signed(signed, CHAIN, dataclasses.replace(session, executor=EXECUTOR + 1))
    assert not reply_is_signed(signed, CHAIN, dataclasses.replace(session, job_hash=1))
    lying = dataclasses.replace(reply, output_hash=felts_digest([4]))
    assert not reply_is_signed(dataclasses.replace(signed, reply=lying), CHAIN, session)


def test_felts_digest_is_sha256_of_32_byte_words() -> None:
    words = (1).to_bytes(32, "big") + (STARK_PRIME - 1).to_bytes(32, "big")
    assert felts_digest([1, STARK_PRIME - 1]) == hashlib.sha256(words).digest()
    assert felts_digest([]) == hashlib.sha256(b"").digest()
    assert felts_digest([1, 2]) != felts_digest([2, 1])


ints = st.one_of(
    st.integers(-(2**300), 2**300),
    st.sampled_from([0, 1, STARK_PRIME - 1, STARK_PRIME, EC_ORDER - 1, EC_ORDER, 2**251, 2**256]),
    st.integers(2**251 - 2**10, EC_ORDER + 2**10),  # s near the bounds, where w = 1/s can overflow
)


@given(ints, ints, st.lists(ints, max_size=3))
@settings(max_examples=1000, deadline=None)
def test_verify_never_raises_on_garbage(public_key: int, message_hash: int, signature) -> None:
    assert stark.verify(public_key, message_hash, signature) in (True, False)


def test_invalid_private_keys_are_refused() -> None:
    for bad in (0, EC_ORDER, -1, 2**256):
        with pytest.raises(stark.InvalidKeyError):
            stark.public_key_of(bad)
    with pytest.raises(ValueError, match="message hash"):
        stark.sign(1, 2**251)


def test_key_pair_repr_hides_the_private_key() -> None:
    assert f"{DELEGATOR_KEY.private_key:x}" not in repr(DELEGATOR_KEY)


def test_public_key_off_the_curve_is_refused_not_fatal() -> None:
    generator_x = 0x1EF15C18599971B7BECED415A40F0C7DEACFD9B0D1819E03D723D8BC943CFCA
    assert stark.is_on_curve(generator_x)
    off_curve = [x for x in range(1, 40) if not stark.is_on_curve(x)]
    assert off_curve, "about half of all x have no point"
    for x in off_curve:
        assert stark.verify(x, 1, (1, 1)) is False


@given(st.integers(1, EC_ORDER - 1), st.integers(1, 2**251 - 1), st.integers(0, 250))
@settings(max_examples=50, deadline=None)
def test_verifier_accepts_what_the_signer_makes_and_nothing_else(
    private_key: int, digest: int, bit: int
) -> None:
    # Signing and verifying use two wheels: every signature made must verify, no tampered one.
    key = StarkKeyPair.from_private_key(private_key)
    r, s = key.sign(digest)
    assert stark.verify(key.public_key, digest, (r, s))
    for tampered in [(r, s ^ (1 << bit)), (r ^ (1 << bit), s)]:
        assert not stark.verify(key.public_key, digest, tampered)
    assert not stark.verify(key.public_key, digest ^ (1 << bit), (r, s))
