"""The base of every error a user can act on: the CLI prints its message, never a traceback."""


class UserError(Exception):
    """A failure whose message says what went wrong and what to do; `exit_code` for the CLI."""

    exit_code = 1


class PartialResult(UserError):
    """A failure after part of the result was gathered: the CLI prints `result`, then the error."""

    def __init__(self, message: str, result: dict, exit_code: int = 1) -> None:
        super().__init__(message)
        self.result = result
        self.exit_code = exit_code
