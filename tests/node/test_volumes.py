"""Input volumes: named by sha256 in the body, fetched between real hosts and checked."""

from __future__ import annotations

import hashlib
import json

import pytest

from node.roles.volumes import (
    VolumeError,
    load_volumes,
    offer_volumes,
    program_input_with,
    volume_refs,
)
from p2p import params
from p2p.messages import JobBody
from p2p.records import digest_key
from tests.p2p.nodes import connect, content_stores, running_hosts

LEAVES = json.dumps([1, 2, 3, 4]).encode()


def body_with(volumes: dict[str, bytes], program_input: bytes = b'{"n": 4}') -> JobBody:
    return JobBody(program=b"{}", program_input=program_input, layout="small",
                   input_volumes=volume_refs(volumes))


def test_refs_are_sorted_sha256_of_the_bytes() -> None:
    refs = volume_refs({"zeta": b"1", "leaves": LEAVES})
    assert refs == (("leaves", hashlib.sha256(LEAVES).digest()),
                    ("zeta", hashlib.sha256(b"1").digest()))
    with pytest.raises(VolumeError, match="'bad' is not UTF-8 JSON"):
        volume_refs({"bad": b"{not json"})


def test_volumes_join_the_program_input_under_their_names() -> None:
    body = body_with({"leaves": LEAVES})
    merged = json.loads(program_input_with(body, {"leaves": [1, 2, 3, 4]}))
    assert merged == {"n": 4, "leaves": [1, 2, 3, 4]}
    assert program_input_with(body, {}) == body.program_input
    with pytest.raises(VolumeError, match=r"\['n'\] are already program input keys"):
        program_input_with(body, {"n": 5})


async def test_a_volume_is_fetched_from_its_publisher_and_checked() -> None:
    async with running_hosts(2) as hosts, content_stores(hosts) as (publisher, executor):
        await connect(hosts[1], hosts[0])
        offer_volumes(publisher, {"leaves": LEAVES})
        body = body_with({"leaves": LEAVES})
        assert await load_volumes(executor, body, hosts[0].get_id()) == {"leaves": [1, 2, 3, 4]}


async def test_a_volume_whose_bytes_do_not_match_its_hash_is_refused() -> None:
    async with running_hosts(2) as hosts, content_stores(hosts) as (publisher, executor):
        await connect(hosts[1], hosts[0])
        body = body_with({"leaves": LEAVES})
        # A publisher serving other bytes under the volume's key (what an honest node never
        # stores: its own puts are keyed by their hash).
        publisher.local.put(digest_key(params.NS_VOLUME, body.input_volumes[0][1]), b"[9, 9]")
        with pytest.raises(VolumeError, match=r"'leaves' .* no peer served bytes with that sha256"):
            await load_volumes(executor, body, hosts[0].get_id())
