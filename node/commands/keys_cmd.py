"""`node keys new | import | show`: the Starknet keystore and the libp2p identity."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from pathlib import Path
from typing import Any

from node.config import Config
from node.errors import UserError
from node.passwords import keystore_password
from p2p.stark import InvalidKeyError, StarkKeyPair

log = logging.getLogger("node.keys")

PLAIN_KEY_WARNING = (
    "WARNING: a private key given on the command line stays in your shell history and is "
    "visible to other users in the process list. Prefer --private-key-file FILE or the prompt."
)


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    keys = commands.add_parser("keys", help="manage this node's keys")
    actions = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    key_files = argparse.ArgumentParser(add_help=False)
    key_files.add_argument(
        "--keystore", help="Starknet keystore (default <data-dir>/keystore.json)"
    )
    key_files.add_argument("--identity", help="libp2p identity (default <data-dir>/identity.key)")
    key_files.add_argument("--password-file", help="read the keystore password from this file")
    flags = {
        "keystore": "keys.keystore",
        "identity": "keys.identity",
        "password_file": "keys.password_file",
    }

    new = actions.add_parser(
        "new", parents=[common, key_files], help="create a Starknet key and a libp2p identity"
    )
    new.add_argument("--force", action="store_true", help="replace existing key files")
    new.set_defaults(handler=keys_new, setting_flags=flags)

    imported = actions.add_parser(
        "import",
        parents=[common, key_files],
        help="encrypt an existing Starknet private key into the keystore",
    )
    source = imported.add_mutually_exclusive_group()
    source.add_argument("--private-key", help="the key in hex (unsafe: see the warning)")
    source.add_argument("--private-key-file", help="a file holding the key in hex")
    imported.add_argument("--force", action="store_true", help="replace an existing keystore")
    imported.set_defaults(handler=keys_import, setting_flags=flags)

    show = actions.add_parser(
        "show", parents=[common, key_files], help="show the public key and the peer id"
    )
    show.set_defaults(handler=keys_show, setting_flags=flags)


def keys_new(args: argparse.Namespace, config: Config) -> dict[str, Any]:
    from node.keys import new_identity, peer_id_of, write_keystore  # libp2p loads slowly

    keystore, identity = config.keystore_path, config.identity_path
    for path in (keystore, identity):
        if path.exists() and not args.force:
            raise UserError(f"{path} exists; pass --force to replace it (the old key is lost)")
    password = keystore_password(config.keys.password_file, os.environ, confirm=True)
    stark_key = StarkKeyPair.generate()
    write_keystore(keystore, stark_key, password, force=args.force)
    peer = new_identity(identity, force=args.force)
    log.info("keys created", extra={"keystore": keystore, "identity": identity})
    return _describe(keystore, stark_key, identity, peer_id_of(peer))


def keys_import(args: argparse.Namespace, config: Config) -> dict[str, Any]:
    if args.private_key:
        print(PLAIN_KEY_WARNING, file=sys.stderr)
        text = args.private_key
    elif args.private_key_file:
        try:
            text = Path(args.private_key_file).expanduser().read_text().strip()
        except OSError as exc:
            raise UserError(f"cannot read {args.private_key_file}: {exc.strerror}") from None
    elif sys.stdin.isatty():
        text = getpass.getpass("Stark private key (hex): ")
    else:
        raise UserError("give the key with --private-key-file FILE (or run in a terminal)")
    from node.keys import new_identity, peer_id_of, read_identity, write_keystore

    stark_key = _parse_private_key(text)
    password = keystore_password(config.keys.password_file, os.environ, confirm=True)
    write_keystore(config.keystore_path, stark_key, password, force=args.force)
    identity = config.identity_path
    peer = read_identity(identity) if identity.exists() else new_identity(identity)
    return _describe(config.keystore_path, stark_key, identity, peer_id_of(peer))


def keys_show(args: argparse.Namespace, config: Config) -> dict[str, Any]:
    from node.keys import peer_id_of, read_identity, read_keystore

    password = keystore_password(config.keys.password_file, os.environ, confirm=False)
    stark_key = read_keystore(config.keystore_path, password)
    peer = read_identity(config.identity_path)
    return _describe(config.keystore_path, stark_key, config.identity_path, peer_id_of(peer))


def _describe(keystore: Path, key: StarkKeyPair, identity: Path, peer_id: str) -> dict[str, Any]:
    return {
        "keystore": str(keystore),
        "public_key": hex(key.public_key),
        "identity": str(identity),
        "peer_id": peer_id,
    }


def _parse_private_key(text: str) -> StarkKeyPair:
    try:
        return StarkKeyPair.from_private_key(int(text.strip(), 16))
    except (ValueError, InvalidKeyError):
        raise UserError("not a Stark private key: expected hex below the curve order") from None
