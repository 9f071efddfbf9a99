"""Content-addressed DHT records: key = /<namespace>/<hex sha256(value)>.

Namespaced keys are what go- and js-libp2p require; py-libp2p needs one validator per
namespace, registered on every node, so each node refuses a record whose key is not its hash.
"""

from __future__ import annotations

import hashlib
import re

from libp2p.records.utils import InvalidRecordType
from libp2p.records.validator import Validator

from p2p import params

_KEY = re.compile(r"^/([a-z0-9-]{1,64})/([0-9a-f]{64})$")


class RecordError(InvalidRecordType):
    """A key/value pair that is not a valid content-addressed record."""


def record_key(namespace: str, value: bytes) -> str:
    """The DHT key of `value` in `namespace`."""
    return digest_key(namespace, hashlib.sha256(value).digest())


def digest_key(namespace: str, digest: bytes) -> str:
    """The DHT key of the value whose sha256 is `digest` (a body id, a witness id)."""
    return f"/{namespace}/{digest.hex()}"


def split_record_key(key: str) -> tuple[str, str]:
    """(namespace, hex digest) of a well-formed key; RecordError otherwise."""
    match = _KEY.match(key)
    if match is None:
        raise RecordError(f"malformed key {key[:80]!r}: expected /<namespace>/<64 hex chars>")
    return match.group(1), match.group(2)


def check_record(key: str, value: bytes, namespace: str, max_size: int) -> None:
    """Raise RecordError unless `key` is /<namespace>/<sha256(value)> and value fits."""
    key_namespace, digest = split_record_key(key)
    if key_namespace != namespace:
        raise RecordError(f"key {key!r} is not in namespace {namespace!r}")
    if len(value) > max_size:
        raise RecordError(f"value of {len(value)} bytes exceeds the {max_size}-byte limit")
    if hashlib.sha256(value).hexdigest() != digest:
        raise RecordError(f"value does not hash to its key {key!r}")


class Sha256Validator(Validator):
    """py-libp2p record validator for one namespace of content-addressed values."""

    def __init__(self, namespace: str, max_size: int = params.MAX_DHT_RECORD) -> None:
        self.namespace = namespace
        self.max_size = max_size

    def validate(self, key: str, value: bytes) -> None:
        """Raise RecordError unless the record is valid."""
        check_record(key, value, self.namespace, self.max_size)

    def select(self, key: str, values: list[bytes]) -> int:
        """All valid values of a key are identical; take the newest (the last).

        A DHT server asks with [the record it holds, the one put]: taking the first refused
        every re-put (a republish, a second publisher of the same body) as "not better", so
        the record never had its age renewed and the putter's stream was reset.
        """
        return len(values) - 1
