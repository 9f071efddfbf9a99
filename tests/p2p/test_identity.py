"""The node's libp2p identity comes from a key file and is stable across restarts."""

from __future__ import annotations

import pytest
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.secp256k1 import create_new_key_pair as create_secp256k1_key_pair

from p2p.identity import IdentityError, load_keypair
from tests.p2p.nodes import running_host


async def test_same_key_file_gives_same_peer_id_after_restart(tmp_path):
    key_file = tmp_path / "node.key"
    key_file.write_bytes(create_new_key_pair().private_key.serialize())
    async with running_host(load_keypair(key_file)) as first:
        first_id = first.get_id()
    async with running_host(load_keypair(key_file)) as second:
        assert second.get_id() == first_id


def test_missing_key_file_says_how_to_create_one(tmp_path):
    with pytest.raises(IdentityError, match="keys command"):
        load_keypair(tmp_path / "absent.key")


@pytest.mark.parametrize("content", [b"", b"not a key", b"\x08\x01\x12\x03abc", b"\xff" * 68])
def test_corrupt_key_file_is_refused(tmp_path, content):
    key_file = tmp_path / "node.key"
    key_file.write_bytes(content)
    with pytest.raises(IdentityError, match="regenerate"):
        load_keypair(key_file)


def test_non_ed25519_key_is_refused(tmp_path):
    key_file = tmp_path / "node.key"
    key_file.write_bytes(create_secp256k1_key_pair().private_key.serialize())
    with pytest.raises(IdentityError, match="Ed25519"):
        load_keypair(key_file)
