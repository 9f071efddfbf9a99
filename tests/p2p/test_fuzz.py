"""Random and mutated bytes fed to every decoder: only CodecError may come out.

FUZZ_CASES sets the number of mutated cases per decoder (default 1000: ten thousand in all);
FUZZ_SEED replays a run.
"""

from __future__ import annotations

import os
import random
import zlib

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from p2p.codec import CodecError
from tests.strategies import ALL_MESSAGES

CASES = int(os.environ.get("FUZZ_CASES", "1000"))
SEED = int(os.environ.get("FUZZ_SEED", str(random.SystemRandom().randrange(2**32))))


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to four random edits: flip, set, insert, delete, truncate or duplicate a slice."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:
            buf[pos % len(buf)] ^= 1 << rng.randrange(8)
        elif op == 1 and buf:
            buf[pos % len(buf)] = rng.choice([0x00, 0x7F, 0x80, 0xC0, 0xC1, 0xCF, 0xD9, 0xDD, 0xFF])
        elif op == 2:
            buf[pos:pos] = rng.randbytes(rng.randint(1, 9))
        elif op == 3:
            del buf[pos : pos + rng.randint(1, 9)]
        elif op == 4:
            del buf[pos:]
        else:
            buf[pos:pos] = buf[pos : pos + rng.randint(1, 40)]
    return bytes(buf)


def decode_only_codec_errors(message_type, data: bytes) -> bool:
    """Decode `data`; True if it decoded, False on CodecError; anything else fails the test."""
    try:
        decoded = message_type.decode(data)
    except CodecError:
        return False
    assert decoded.encode() == data, "a decoded message must re-encode to the same bytes"
    return True


@pytest.mark.parametrize("message_type", list(ALL_MESSAGES), ids=lambda t: t.__name__)
def test_mutated_valid_messages_raise_only_codec_error(message_type) -> None:
    rng = random.Random(SEED ^ zlib.crc32(message_type.TYPE.encode()))

    # Eight valid messages from the simplest up; each seeds an eighth of the mutations.
    # No shrinking: a failure names the seed, case and bytes, which replay it exactly.
    @given(ALL_MESSAGES[message_type])
    @settings(
        max_examples=8,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(sample) -> None:
        seed = sample.encode()
        for case in range(CASES // 8):
            data = mutate(seed, rng)
            try:
                decode_only_codec_errors(message_type, data)
            except Exception as exc:
                raise AssertionError(f"seed={SEED} case={case} data={data.hex()}") from exc

    fuzz()


@pytest.mark.parametrize("message_type", list(ALL_MESSAGES), ids=lambda t: t.__name__)
def test_random_bytes_raise_only_codec_error(message_type) -> None:
    rng = random.Random(SEED + 1)
    for case in range(CASES // 4):
        data = rng.randbytes(rng.randint(0, 300))
        try:
            decode_only_codec_errors(message_type, data)
        except Exception as exc:
            raise AssertionError(f"seed={SEED} case={case} data={data.hex()}") from exc


@given(st.binary(max_size=200))
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
def test_arbitrary_bytes_raise_only_codec_error_for_every_decoder(data: bytes) -> None:
    for message_type in ALL_MESSAGES:
        decode_only_codec_errors(message_type, data)


def test_deeply_nested_msgpack_is_refused_cleanly() -> None:
    for message_type in ALL_MESSAGES:
        assert not decode_only_codec_errors(message_type, b"\x91" * 3000 + b"\xc0")
        assert not decode_only_codec_errors(message_type, b"\x81\xa1a" * 1000 + b"\xc0")
