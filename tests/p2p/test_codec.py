"""Canonical encoding and strict decoding of every wire message."""

from __future__ import annotations

import hashlib

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2p import limits
from p2p.codec import PROTOCOL_VERSION, CodecError
from p2p.messages import JobBody, JobHeader, JobWitness, SignedJobHeader
from p2p.stark import STARK_PRIME
from tests.strategies import ALL_MESSAGES

HEADER = JobHeader(
    chain_id=0x534E5F5345504F4C4941,
    registry=0x1234,
    delegator=0xABC,
    body_id=b"\x07" * 32,
    program_hash=0x55,
    max_steps=1_000_000,
    reward=10**18,
    deadline=1_800_000_000,
    nonce=7,
)


def raw_map(message) -> dict:
    return msgpack.unpackb(message.encode(), raw=False)


def pack(raw: dict) -> bytes:
    return msgpack.packb(raw, use_bin_type=True)


@pytest.mark.parametrize("message_type", list(ALL_MESSAGES), ids=lambda t: t.__name__)
def test_every_message_round_trips(message_type) -> None:
    @settings(max_examples=60, deadline=None)
    @given(ALL_MESSAGES[message_type])
    def round_trip(message) -> None:
        encoded = message.encode()
        assert message_type.decode(encoded) == message
        assert message_type.decode(encoded).encode() == encoded

    round_trip()


@given(ALL_MESSAGES[JobBody])
@settings(max_examples=30, deadline=None)
def test_body_id_is_sha256_of_canonical_bytes(body: JobBody) -> None:
    assert body.body_id == hashlib.sha256(body.encode()).digest()


def test_encoding_is_a_map_with_type_version_then_fields_in_order() -> None:
    raw = raw_map(HEADER)
    assert list(raw)[:2] == ["type", "v"]
    assert raw["type"] == "job_header" and raw["v"] == PROTOCOL_VERSION
    assert list(raw)[2:] == [
        "chain_id",
        "registry",
        "delegator",
        "body_id",
        "program_hash",
        "max_steps",
        "reward",
        "deadline",
        "nonce",
    ]
    assert raw["reward"] == (10**18).to_bytes(32, "big")
    assert raw["max_steps"] == 1_000_000


def expect_error(message_type, data: bytes, field: str, reason_part: str) -> None:
    with pytest.raises(CodecError) as caught:
        message_type.decode(data)
    assert caught.value.field == field
    assert reason_part in caught.value.reason


def test_missing_field_is_named() -> None:
    raw = raw_map(HEADER)
    del raw["reward"]
    expect_error(JobHeader, pack(raw), "job_header.reward", "missing")


def test_extra_field_is_named() -> None:
    raw = raw_map(HEADER)
    raw["tip"] = 5
    expect_error(JobHeader, pack(raw), "job_header.tip", "unexpected")


def test_wrong_type_is_named() -> None:
    raw = raw_map(HEADER)
    raw["max_steps"] = "many"
    expect_error(JobHeader, pack(raw), "job_header.max_steps", "expected an integer")
    raw["max_steps"] = True
    expect_error(JobHeader, pack(raw), "job_header.max_steps", "expected an integer")
    raw = raw_map(HEADER)
    raw["reward"] = 10**18
    expect_error(JobHeader, pack(raw), "job_header.reward", "32 big-endian bytes")


def test_felt_at_or_above_the_prime_is_refused() -> None:
    raw = raw_map(HEADER)
    raw["nonce"] = STARK_PRIME.to_bytes(32, "big")
    expect_error(JobHeader, pack(raw), "job_header.nonce", "out of range")


def test_short_or_long_fixed_width_value_is_refused() -> None:
    raw = raw_map(HEADER)
    raw["body_id"] = b"\x01" * 31
    expect_error(JobHeader, pack(raw), "job_header.body_id", "expected 32 bytes")
    raw = raw_map(HEADER)
    raw["reward"] = b"\x00" * 33
    expect_error(JobHeader, pack(raw), "job_header.reward", "expected 32 bytes")


def test_unknown_version_says_so() -> None:
    raw = raw_map(HEADER)
    raw["v"] = PROTOCOL_VERSION + 1
    expect_error(JobHeader, pack(raw), "job_header.v", "unsupported protocol version")


def test_another_message_type_is_refused() -> None:
    signed = SignedJobHeader(HEADER, (1, 2))
    expect_error(JobHeader, signed.encode(), "job_header.type", "expected 'job_header'")


def test_nested_errors_name_the_path() -> None:
    raw = raw_map(SignedJobHeader(HEADER, (1, 2)))
    del raw["header"]["nonce"]
    expect_error(SignedJobHeader, pack(raw), "signed_job_header.header.nonce", "missing")


def test_non_canonical_encodings_are_refused() -> None:
    raw = raw_map(HEADER)
    reordered = dict(reversed(list(raw.items())))
    expect_error(JobHeader, pack(reordered), "job_header", "canonical")
    # max_steps as a 64-bit integer although it fits one byte.
    encoded = HEADER.encode()
    wide = encoded.replace(
        b"\xa9max_steps\xce\x00\x0f\x42\x40", b"\xa9max_steps\xcf" + (1_000_000).to_bytes(8, "big")
    )
    assert wide != encoded
    expect_error(JobHeader, wide, "job_header", "canonical")


def test_trailing_bytes_are_refused() -> None:
    expect_error(JobHeader, HEADER.encode() + b"\x00", "job_header", "not valid msgpack")


def test_oversize_input_is_refused_before_parsing() -> None:
    data = b"\xc0" * (limits.MAX_SMALL_MESSAGE_BYTES + 1)
    expect_error(JobHeader, data, "job_header", "exceeds the limit")


def test_non_bytes_input_is_refused() -> None:
    with pytest.raises(CodecError, match="expected bytes"):
        JobHeader.decode("not bytes")  # type: ignore[arg-type]


def test_extension_types_are_refused() -> None:
    raw = raw_map(HEADER)
    raw["nonce"] = msgpack.ExtType(5, b"\x00")
    expect_error(JobHeader, pack(raw), "job_header", "extension type 5")


def test_body_program_must_be_a_json_object() -> None:
    body = JobBody(program=b'{"data": []}', program_input=b"{}", layout="small")
    raw = raw_map(body)
    raw["program"] = b"[1, 2]"
    expect_error(JobBody, pack(raw), "job_body.program", "JSON object")
    raw["program"] = b"\xff\xfe"
    expect_error(JobBody, pack(raw), "job_body.program", "not UTF-8 JSON")


@pytest.mark.parametrize(
    ("volumes", "field", "reason"),
    [
        ((("b", b"\x01" * 32), ("a", b"\x02" * 32)), "job_body.input_volumes", "sorted"),
        ((("a", b"\x01" * 32), ("a", b"\x02" * 32)), "job_body.input_volumes", "unique"),
        ((("", b"\x01" * 32),), "job_body.input_volumes[0].name", "letters, digits"),
        ((("a-b", b"\x01" * 32),), "job_body.input_volumes[0].name", "letters, digits"),
        ((("a", b"\x01" * 31),), "job_body.input_volumes[0].digest", "32 bytes"),
        ((("a", b"\x01" * 32, 3),), "job_body.input_volumes[0]", "(name, digest) pair"),
        (tuple((f"v{i:02}", b"\x01" * 32) for i in range(limits.MAX_INPUT_VOLUMES + 1)),
         "job_body.input_volumes", "exceeds the limit"),
    ],
)
def test_bad_input_volume_lists_are_refused(volumes: tuple, field: str, reason: str) -> None:
    with pytest.raises(CodecError) as caught:
        JobBody(program=b"{}", program_input=b"{}", layout="small", input_volumes=volumes)
    assert (caught.value.field, reason in caught.value.reason) == (field, True)
    raw = raw_map(JobBody(program=b"{}", program_input=b"{}", layout="small"))
    raw["input_volumes"] = [[name, *rest] for name, *rest in volumes]
    with pytest.raises(CodecError):
        JobBody.decode(pack(raw))


def test_output_volume_names_keep_their_order_and_bad_ones_are_refused() -> None:
    body = JobBody(program=b"{}", program_input=b"{}", layout="small", output_volumes=("b", "a"))
    assert JobBody.decode(body.encode()).output_volumes == ("b", "a")
    for names, reason in [(("a", "a"), "unique"), (("a-b",), "letters, digits"), ((3,), "string"),
                          (tuple(f"v{i}" for i in range(limits.MAX_OUTPUT_VOLUMES + 1)),
                           "exceeds the limit")]:
        with pytest.raises(CodecError) as caught:
            JobBody(program=b"{}", program_input=b"{}", layout="small", output_volumes=names)
        assert reason in caught.value.reason
        raw = raw_map(body)
        raw["output_volumes"] = list(names)
        with pytest.raises(CodecError):
            JobBody.decode(pack(raw))


def test_witness_output_is_inline_or_in_volumes_not_both() -> None:
    common = dict(job_hash=1, executor=2, mode="reexec", security_bits=0, proof=b"",
                  proof_id=b"", run_ms=1, prove_ms=0)
    volumes = (("table", b"\x01" * 32), ("log", b"\x02" * 32))
    witness = JobWitness(**common, output=(), output_digest=5, output_volumes=volumes)
    assert JobWitness.decode(witness.encode()).output_volumes == volumes  # declared order kept
    with pytest.raises(CodecError, match=r"job_witness\.output\b"):
        JobWitness(**common, output=(1,), output_digest=5, output_volumes=volumes)
    with pytest.raises(CodecError, match=r"job_witness\.output_digest"):
        JobWitness(**common, output=(1,), output_digest=5)
    raw = {**raw_map(JobWitness(**common, output=(1,))),
           **{k: v for k, v in raw_map(witness).items() if k.startswith("output_")}}
    with pytest.raises(CodecError, match=r"job_witness\.output\b"):
        JobWitness.decode(pack(raw))


def test_body_over_the_size_limit_is_refused() -> None:
    with pytest.raises(CodecError) as caught:
        JobBody(program=b"{}" + b" " * limits.MAX_PROGRAM_BYTES, program_input=b"{}", layout="x")
    assert caught.value.field == "job_body.program"


def test_invalid_values_cannot_be_built() -> None:
    with pytest.raises(CodecError, match=r"job_header\.reward"):
        JobHeader(**{**HEADER.__dict__, "reward": 2**256})
    with pytest.raises(CodecError, match=r"job_header\.delegator"):
        JobHeader(**{**HEADER.__dict__, "delegator": -1})


@given(st.sampled_from(["stone", "native"]), st.binary(min_size=1, max_size=8))
@settings(max_examples=10)
def test_witness_carries_a_proof_inline_or_by_id_not_both(mode: str, proof: bytes) -> None:
    common = dict(
        job_hash=1, executor=2, output=(3,), mode=mode, security_bits=80, run_ms=1, prove_ms=1
    )
    with pytest.raises(CodecError, match="proof_id"):
        JobWitness(**common, proof=proof, proof_id=b"\x01" * 32)


def test_reexecution_witness_claims_no_proof_bits() -> None:
    with pytest.raises(CodecError, match=r"job_witness\.mode"):
        JobWitness(
            job_hash=1,
            executor=2,
            output=(),
            mode="reexec",
            security_bits=80,
            proof=b"",
            proof_id=b"",
            run_ms=1,
            prove_ms=0,
        )
    with pytest.raises(CodecError, match=r"job_witness\.mode"):
        JobWitness(
            job_hash=1,
            executor=2,
            output=(),
            mode="magic",
            security_bits=0,
            proof=b"",
            proof_id=b"",
            run_ms=1,
            prove_ms=0,
        )
