"""Key files: starkli-format keystores and libp2p identities, never confused."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from node.keys import (
    KeyFileError,
    new_identity,
    peer_id_of,
    read_identity,
    read_keystore,
    write_keystore,
)
from p2p.stark import StarkKeyPair

KEY = StarkKeyPair.from_private_key(
    0x2DCCCE1DE3F0F8B5D8A4D23D3A3F7B0B2C1C1E6E35A7D9F5E5B8A7E6A1B2C3
)

# The scrypt test vector of the Web3 Secret Storage (keystore v3) definition, which starkli's
# keystores follow: password "testpassword".
V3_VECTOR = {
    "crypto": {
        "cipher": "aes-128-ctr",
        "cipherparams": {"iv": "83dbcc02d8ccb40e466191a123791e0e"},
        "ciphertext": "d172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c",
        "kdf": "scrypt",
        "kdfparams": {
            "dklen": 32,
            "n": 262144,
            "p": 8,
            "r": 1,
            "salt": "ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19",
        },
        "mac": "2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097",
    },
    "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6",
    "version": 3,
}


def test_keystore_round_trip_is_private_and_starkli_shaped(tmp_path: Path) -> None:
    path = tmp_path / "keystore.json"
    write_keystore(path, KEY, "correct horse")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert document["version"] == 3 and "address" not in document
    assert document["crypto"]["kdf"] == "scrypt" and document["crypto"]["cipher"] == "aes-128-ctr"
    assert read_keystore(path, "correct horse").private_key == KEY.private_key


def test_standard_v3_keystore_vector_decrypts(tmp_path: Path) -> None:
    # The vector's secret (0x7a28...) is a valid Ethereum key but above the Stark curve order:
    # decryption succeeds (the MAC checks) and the key is then refused for what it is.
    path = tmp_path / "vector.json"
    path.write_text(json.dumps(V3_VECTOR))
    with pytest.raises(KeyFileError, match="does not hold a Stark private key"):
        read_keystore(path, "testpassword")
    with pytest.raises(KeyFileError, match="wrong password"):
        read_keystore(path, "testpassword!")


def test_wrong_password_is_reported_as_such(tmp_path: Path) -> None:
    path = tmp_path / "keystore.json"
    write_keystore(path, KEY, "right")
    with pytest.raises(KeyFileError, match="wrong password"):
        read_keystore(path, "wrong")


def test_existing_files_are_kept_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "keystore.json"
    write_keystore(path, KEY, "pw")
    other = StarkKeyPair.generate()
    with pytest.raises(KeyFileError, match="--force"):
        write_keystore(path, other, "pw")
    assert read_keystore(path, "pw").private_key == KEY.private_key
    write_keystore(path, other, "pw", force=True)
    assert read_keystore(path, "pw").private_key == other.private_key


def test_empty_password_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="empty"):
        write_keystore(tmp_path / "k.json", KEY, "")


def test_identity_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "identity.key"
    created = new_identity(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = read_identity(path)
    assert peer_id_of(loaded) == peer_id_of(created)
    assert peer_id_of(created).startswith("12D3KooW")  # Ed25519 peer ids


def test_identity_and_keystore_files_are_never_confused(tmp_path: Path) -> None:
    keystore, identity = tmp_path / "keystore.json", tmp_path / "identity.key"
    write_keystore(keystore, KEY, "pw")
    new_identity(identity)
    with pytest.raises(KeyFileError, match="not a libp2p identity"):
        read_identity(keystore)
    with pytest.raises(KeyFileError, match="libp2p identity"):
        read_keystore(identity, "pw")


@pytest.mark.parametrize("content", [b"", b"\x00" * 10, b"\x08\x01\x12\x05abcde", b"garbage"])
def test_corrupt_identity_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "identity.key"
    path.write_bytes(content)
    with pytest.raises(KeyFileError, match=str(path)):
        read_identity(path)


@pytest.mark.parametrize("content", ["", "{}", "[]", '{"version": 3, "crypto": {}}', "{bad"])
def test_corrupt_keystore_is_a_clear_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "keystore.json"
    path.write_text(content)
    with pytest.raises(KeyFileError, match=str(path)):
        read_keystore(path, "pw")


def test_missing_files_say_how_to_create_them(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="node keys new"):
        read_keystore(tmp_path / "none.json", "pw")
    with pytest.raises(KeyFileError, match="node keys new"):
        read_identity(tmp_path / "none.key")
