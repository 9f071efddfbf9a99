"""Load the node's persistent libp2p identity (an Ed25519 key in libp2p protobuf form)."""

from __future__ import annotations

from pathlib import Path

from libp2p.crypto.ed25519 import Ed25519PrivateKey
from libp2p.crypto.keys import KeyPair
from libp2p.crypto.serialization import deserialize_private_key


class IdentityError(ValueError):
    """The identity file is missing, unreadable or not an Ed25519 libp2p private key."""


def load_keypair(path: str | Path) -> KeyPair:
    """Read a libp2p protobuf-serialised Ed25519 private key from `path`.

    Raises IdentityError with a message that says how to fix the file.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise IdentityError(
            f"cannot read identity key {path}: {exc.strerror}; create one with the keys command"
        ) from exc
    try:
        private_key = deserialize_private_key(raw)
    except Exception as exc:
        raise IdentityError(
            f"identity key {path} is not a libp2p protobuf private key ({exc}); "
            "regenerate it with the keys command"
        ) from exc
    if not isinstance(private_key, Ed25519PrivateKey):
        raise IdentityError(
            f"identity key {path} holds a {private_key.get_type().name} key; "
            "the node needs Ed25519, regenerate it with the keys command"
        )
    return KeyPair(private_key, private_key.get_public_key())
