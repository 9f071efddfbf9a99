"""Where a keystore password comes from: a file, the environment, or a prompt, in that order."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Mapping
from pathlib import Path

from node.config import ENV_KEYSTORE_PASSWORD
from node.errors import UserError


def keystore_password(password_file: str, environ: Mapping[str, str], *, confirm: bool) -> str:
    """The password from `password_file`, else $ZETINA_KEYSTORE_PASSWORD, else a prompt."""
    if password_file:
        try:
            return Path(password_file).expanduser().read_text().rstrip("\r\n")
        except OSError as exc:
            raise UserError(f"cannot read password file {password_file}: {exc.strerror}") from None
    if environ.get(ENV_KEYSTORE_PASSWORD):
        return environ[ENV_KEYSTORE_PASSWORD]
    if not sys.stdin.isatty():
        raise UserError(
            "no keystore password: pass --password-file FILE, set "
            f"{ENV_KEYSTORE_PASSWORD}, or run in a terminal to be prompted"
        )
    password = getpass.getpass("Keystore password: ")
    if confirm and getpass.getpass("Repeat the password: ") != password:
        raise UserError("the two passwords differ; nothing was written")
    return password
