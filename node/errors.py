"""The base of every error a user can act on: the CLI prints its message, never a traceback."""


class UserError(Exception):
    """A failure whose message says what went wrong and what to do; `exit_code` for the CLI."""

    exit_code = 1
