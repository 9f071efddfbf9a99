"""Key files: the Starknet account key and the libp2p identity, kept apart.

- The Starknet (Stark-curve) private key lives in an encrypted keystore in starkli's format: an
  Ethereum keystore v3 JSON document (scrypt + AES-128-CTR) holding the 32-byte big-endian key.
- The libp2p identity is a separate Ed25519 key, stored as the standard libp2p protobuf-encoded
  private key (as other libp2p implementations write it), readable by its owner only.

The two are never the same key: each is generated on its own, and each reader refuses the other's
file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import eth_keyfile
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.keys import KeyPair, KeyType
from libp2p.crypto.serialization import deserialize_private_key
from libp2p.peer.id import ID

from node.errors import UserError
from p2p.stark import EC_ORDER, StarkKeyPair

SCRYPT_N = 2**13
"""scrypt cost of new keystores (starkli's default; about 0.2 s to unlock here)."""


class KeyFileError(UserError):
    """A key file that cannot be written or read; the message says what to do."""


def write_keystore(path: Path, key: StarkKeyPair, password: str, *, force: bool = False) -> None:
    """Encrypt `key` into a starkli-format keystore at `path` (mode 0600)."""
    if not password:
        raise KeyFileError("refusing an empty keystore password")
    document = eth_keyfile.create_keyfile_json(
        key.private_key.to_bytes(32, "big"), password, kdf="scrypt", iterations=SCRYPT_N
    )
    document.pop("address", None)  # an Ethereum address means nothing for a Stark key
    _write_private(path, json.dumps(document, indent=2).encode(), force)


def read_keystore(path: Path, password: str) -> StarkKeyPair:
    """Decrypt a keystore; KeyFileError if it is missing, malformed or the password is wrong."""
    document = _read_keystore_document(path)
    try:
        secret = eth_keyfile.decode_keyfile_json(document, password)
    except Exception as exc:  # a malformed document makes eth_keyfile raise many types
        if "MAC mismatch" in str(exc):
            raise KeyFileError(f"wrong password for keystore {path}") from None
        raise KeyFileError(f"keystore {path} is malformed: {exc!r}") from None
    private_key = int.from_bytes(secret, "big")
    if not 0 < private_key < EC_ORDER:
        raise KeyFileError(f"keystore {path} does not hold a Stark private key")
    return StarkKeyPair.from_private_key(private_key)


def _read_keystore_document(path: Path) -> dict[str, Any]:
    raw = _read(path, "keystore")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        hint = " (it looks like a libp2p identity file)" if raw[:2] == b"\x08\x01" else ""
        raise KeyFileError(f"{path} is not a keystore (JSON expected){hint}") from None
    if not isinstance(document, dict) or document.get("version") != 3 or "crypto" not in document:
        raise KeyFileError(f"{path} is not a version 3 keystore")
    return document


def new_identity(path: Path, *, force: bool = False) -> KeyPair:
    """Generate an Ed25519 libp2p identity and save it at `path` (mode 0600)."""
    key_pair = create_new_key_pair()
    _write_private(path, key_pair.private_key.serialize(), force)
    return key_pair


def read_identity(path: Path) -> KeyPair:
    """Load a libp2p identity; KeyFileError for anything but an Ed25519 key file."""
    raw = _read(path, "identity")
    if raw.lstrip()[:1] == b"{":
        raise KeyFileError(f"{path} is a JSON file (a keystore?), not a libp2p identity")
    try:
        private_key = deserialize_private_key(raw)
    except Exception as exc:  # protobuf and key parsing raise many types
        raise KeyFileError(f"{path} is not a libp2p private key: {exc}") from None
    if private_key.get_type() != KeyType.Ed25519:
        raise KeyFileError(f"{path} holds a {private_key.get_type().name} key; Ed25519 expected")
    return KeyPair(private_key, private_key.get_public_key())


def peer_id_of(key_pair: KeyPair) -> str:
    """The peer id (base58 multihash) of an identity."""
    return ID.from_pubkey(key_pair.public_key).pretty()


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"no {what} at {path}; create one with 'node keys new'") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read {what} {path}: {exc.strerror}") from None


def _write_private(path: Path, content: bytes, force: bool) -> None:
    path = Path(path)
    if path.exists() and not force:
        raise KeyFileError(f"{path} exists; pass --force to replace it (the old key is lost)")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
