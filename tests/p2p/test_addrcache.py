"""Cached multiaddr parsing and formatting gives what py-multiaddr gives."""

from __future__ import annotations

import pytest
from multiaddr import Multiaddr
from multiaddr.exceptions import StringParseError

from p2p import addrcache

ADDRS = (
    "/ip4/127.0.0.1/tcp/4001",
    "/ip6/::1/tcp/4001",
    "/dns4/node.example/tcp/443",
    "/ip4/10.0.0.1/tcp/1/p2p/12D3KooWERR2tCaoeEsJBs7iXTasWvR5axK8zCS8j4uwtnGpSYJS",
    "/ip4/127.0.0.1/udp/9/quic-v1",
)


def test_cached_multiaddrs_equal_fresh_ones():
    fresh = {text: (Multiaddr(text).to_bytes(), str(Multiaddr(text))) for text in ADDRS}
    addrcache.install()
    for text, (raw, formatted) in fresh.items():
        for _ in range(2):  # first parse, then from the cache
            addr = Multiaddr(text)
            assert addr.to_bytes() == raw
            assert str(addr) == str(Multiaddr(raw)) == formatted


@pytest.mark.parametrize("text", ["/ip4/not-an-ip/tcp/1", "/tcp", "/ip4/127.0.0.1/tcp/99999"])
def test_text_that_does_not_parse_fails_every_time(text):
    addrcache.install()
    for _ in range(2):
        with pytest.raises(StringParseError):
            Multiaddr(text)
