"""Content-addressed record keys and their validator."""

from __future__ import annotations

import hashlib

import pytest

from p2p import params
from p2p.content import LocalStore
from p2p.records import RecordError, Sha256Validator, record_key

NS = params.NS_BODY


def test_key_is_namespace_and_sha256_hex():
    value = b"job body"
    assert record_key(NS, value) == f"/{NS}/{hashlib.sha256(value).hexdigest()}"


def test_validator_accepts_a_matching_record():
    Sha256Validator(NS).validate(record_key(NS, b"v"), b"v")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (record_key(NS, b"other"), b"v", "does not hash"),
        (record_key(params.NS_WITNESS, b"v"), b"v", "not in namespace"),
        (f"/{NS}/" + "AB" * 32, b"v", "malformed"),
        (f"/{NS}/" + "ab" * 31, b"v", "malformed"),
        (f"{NS}/" + "ab" * 32, b"v", "malformed"),
        ("", b"v", "malformed"),
        ("/pk/" + "ab" * 32, b"v", "not in namespace"),
        (f"/{NS}/" + "ab" * 32 + "/extra", b"v", "malformed"),
    ],
)
def test_validator_refuses_bad_records(key, value, message):
    with pytest.raises(RecordError, match=message):
        Sha256Validator(NS).validate(key, value)


def test_validator_refuses_oversize_values_even_with_the_right_key():
    value = b"x" * 1001
    with pytest.raises(RecordError, match="exceeds"):
        Sha256Validator(NS, max_size=1000).validate(record_key(NS, value), value)


def test_local_store_keeps_within_its_byte_budget_dropping_the_oldest():
    store = LocalStore(max_bytes=250)
    for n in range(4):
        store.put(f"k{n}", bytes([n]) * 100)
    assert store.get("k0") is None and store.get("k1") is None
    assert store.get("k2") == bytes([2]) * 100 and store.get("k3") == bytes([3]) * 100
