"""The stream muxer chosen inside the Noise handshake (p2p.inline_muxer).

Interoperation with a peer that lists no muxers (py-libp2p's stock Noise: multistream-select
chooses) is tested in tests/p2p/test_yamux.py and tests/p2p/test_multistream.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
import trio
from libp2p.network.exceptions import SwarmException
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID

from p2p.host import GuardedHost, p2p_addr, peer_info
from p2p.inline_muxer import NoCommonMuxer, choose
from p2p.yamux import PROTOCOL_ID as YAMUX
from tests.p2p.nodes import connect, ping_ok, running_host

MPLEX = "/mplex/6.7.0"


def test_the_initiators_preference_decides_among_muxers_both_list():
    assert choose([YAMUX, MPLEX], [MPLEX, YAMUX]) == YAMUX
    assert choose([MPLEX, YAMUX], [YAMUX]) == YAMUX


def test_a_side_listing_no_muxers_leaves_the_choice_to_multistream_select():
    assert choose([], [YAMUX]) is None
    assert choose([YAMUX], []) is None


def test_lists_with_no_muxer_in_common_fail_the_handshake():
    with pytest.raises(NoCommonMuxer, match="no stream muxer in common"):
        choose([MPLEX], [YAMUX])


def count_muxer_negotiations(host: GuardedHost) -> Callable[[], int]:
    """Count the multistream-select muxer negotiations `host` runs from now on."""
    selector = host.get_network().upgrader.muxer_multistream._selector  # type: ignore[attr-defined]
    select = selector.select
    calls = []

    async def counted(*args, **kwargs):
        calls.append(args)
        return await select(*args, **kwargs)

    selector.select = counted
    return lambda: len(calls)


def inline_muxer(host: GuardedHost, peer: GuardedHost) -> str | None:
    return host.get_network().connections[peer.get_id()][0].muxed_conn.secured_conn.inline_muxer


async def test_our_hosts_agree_on_yamux_in_the_handshake_without_negotiating_it_after():
    async with running_host() as dialer, running_host() as listener:
        negotiations = [count_muxer_negotiations(host) for host in (dialer, listener)]
        await connect(dialer, listener)
        assert inline_muxer(dialer, listener) == YAMUX == inline_muxer(listener, dialer)
        assert [count() for count in negotiations] == [0, 0]
        assert await ping_ok(dialer, listener) and await ping_ok(listener, dialer)


@pytest.mark.parametrize("odd_dials", [True, False], ids=["odd-peer-dials", "we-dial"])
async def test_a_peer_listing_only_a_muxer_we_lack_is_refused_and_the_host_carries_on(
    odd_dials: bool, caplog: pytest.LogCaptureFixture
):
    async with running_host() as ours, running_host() as odd, running_host() as other:
        noise = odd.get_network().upgrader.security_multistream.transports[NOISE_PROTOCOL_ID]
        noise.muxers = (MPLEX,)
        dialer, listener = (odd, ours) if odd_dials else (ours, odd)
        warnings = caplog.at_level(logging.WARNING, logger="p2p.readahead")
        with warnings, trio.fail_after(10), pytest.raises(SwarmException):
            await dialer.connect(peer_info(p2p_addr(listener)))
        refusals = [r for r in caplog.records if r.message.startswith("connection refused")]
        assert refusals and all(MPLEX in r.error and YAMUX in r.error for r in refusals)
        with trio.fail_after(5):
            while ours.get_network().connections.get(odd.get_id()):
                await trio.sleep(0.01)
        await connect(other, ours)
        assert await ping_ok(other, ours) and await ping_ok(ours, other)
