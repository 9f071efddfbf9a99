"""Volumes: input volumes named by sha256 in the body, output volumes cut from a real run's
output; both fetched between real hosts and checked."""

from __future__ import annotations

import hashlib
import json

import pytest

from cairo_jobs.examples import compiled
from cairo_jobs.facts import output_digest
from cairo_jobs.model import RunRequest
from cairo_jobs.vm import execute
from node.roles.volumes import (
    VolumeError,
    checked_output_volumes,
    joined_output,
    load_volumes,
    offer_output_volumes,
    offer_volumes,
    output_sections,
    output_volume_refs,
    program_input_with,
    volume_bytes,
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


SQUARES = execute(RunRequest(compiled("squares"), {"seed": 2, "n": 8}, "small")).output


def test_a_run_output_splits_into_its_declared_sections() -> None:
    sections = output_sections(["table"], SQUARES)
    assert sections == {"table": [2, 3, 6, 11, 18, 27, 38, 51]}
    assert joined_output(list(sections.values())) == SQUARES
    two = output_sections(["a", "b"], [2, 7, 8, 0])
    assert two == {"a": [7, 8], "b": []} and joined_output([[7, 8], []]) == [2, 7, 8, 0]


@pytest.mark.parametrize(
    ("names", "output", "reason"),
    [
        (["a"], [], "the output ends (0 felts) before the length of output volume 'a'"),
        (["a"], [3, 1, 2], "output volume 'a' declares 3 felts at offset 0; the output has 2"),
        (["a"], [1, 5, 9], "1 felts after its last declared volume"),
        (["a", "b"], [1, 5], "before the length of output volume 'b'"),
    ],
)
def test_an_output_that_is_not_its_sections_is_refused(names, output, reason) -> None:
    with pytest.raises(VolumeError) as caught:
        output_sections(names, output)
    assert reason in str(caught.value)


def sections_of(output: list[int]) -> dict[str, list[int]]:
    return output_sections(["table"], output)


async def test_output_volumes_are_fetched_and_checked_against_the_digest() -> None:
    sections = sections_of(SQUARES)
    refs = output_volume_refs(sections)
    assert refs == (("table", hashlib.sha256(volume_bytes(sections["table"])).digest()),)
    async with running_hosts(2) as hosts, content_stores(hosts) as (executor, delegator):
        await connect(hosts[1], hosts[0])
        offer_output_volumes(executor, sections)
        publisher = hosts[0].get_id()
        (volume,) = await checked_output_volumes(delegator, refs, ["table"],
                                                 output_digest(SQUARES), publisher)
        assert (volume.name, volume.felts) == ("table", sections["table"])
        assert volume.data == volume_bytes(sections["table"])

        with pytest.raises(VolumeError, match=r"not the body's \['other'\]"):
            await checked_output_volumes(delegator, refs, ["other"], output_digest(SQUARES))
        with pytest.raises(VolumeError, match="not the output of digest"):
            await checked_output_volumes(delegator, refs, ["table"],
                                         output_digest(SQUARES[:-1]), publisher)


async def test_a_volume_hash_that_lies_about_the_run_is_refused() -> None:
    # A witness naming a volume that is served and hashes right, but is not the run's section.
    lie = sections_of([*SQUARES[:-1], SQUARES[-1] + 1])
    async with running_hosts(2) as hosts, content_stores(hosts) as (executor, validator):
        await connect(hosts[1], hosts[0])
        offer_output_volumes(executor, lie)
        with pytest.raises(VolumeError, match="not the output of digest"):
            await checked_output_volumes(validator, output_volume_refs(lie), ["table"],
                                         output_digest(SQUARES), hosts[0].get_id())


async def test_an_output_volume_with_the_wrong_content_is_refused() -> None:
    sections = sections_of(SQUARES)
    refs = output_volume_refs(sections)
    async with running_hosts(2) as hosts, content_stores(hosts) as (executor, delegator):
        await connect(hosts[1], hosts[0])
        executor.local.put(digest_key(params.NS_VOLUME, refs[0][1]), volume_bytes([1, 2]))
        with pytest.raises(VolumeError, match=r"output volume 'table' .* no peer served"):
            await checked_output_volumes(delegator, refs, ["table"], output_digest(SQUARES),
                                         hosts[0].get_id())
        not_felts = b'[1, "x"]'
        executor.offer(params.NS_VOLUME, not_felts)
        refs = (("table", hashlib.sha256(not_felts).digest()),)
        with pytest.raises(VolumeError, match="not a JSON list of felts"):
            await checked_output_volumes(delegator, refs, ["table"], 0, hosts[0].get_id())


async def test_an_output_volume_is_the_input_volume_of_the_next_job() -> None:
    sections = sections_of(SQUARES)
    ((_, digest),) = output_volume_refs(sections)
    next_body = JobBody(program=compiled("merkle_root"), program_input=b"{}", layout="small",
                        input_volumes=(("leaves", digest),))
    async with running_hosts(2) as hosts, content_stores(hosts) as (first, second):
        await connect(hosts[1], hosts[0])
        offer_output_volumes(first, sections)  # what the first job's executor stores
        values = await load_volumes(second, next_body, hosts[0].get_id())
    assert values == {"leaves": SQUARES[1:]}
    merkle = execute(RunRequest(next_body.program, json.loads(
        program_input_with(next_body, values)), "small"))
    assert merkle.output[0] == len(SQUARES) - 1  # the next program read every leaf
