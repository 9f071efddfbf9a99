"""Why a Cairo run failed: a machine-readable reason and a message a user can act on."""

from __future__ import annotations

import enum


class FailureReason(str, enum.Enum):
    """Machine-readable reason codes of `RunFailure` (stable strings, safe to put on the wire)."""

    BAD_REQUEST = "bad_request"
    MALFORMED_PROGRAM = "malformed_program"
    BAD_INPUT = "bad_input"
    UNKNOWN_LAYOUT = "unknown_layout"
    LAYOUT_MISMATCH = "layout_mismatch"
    NOT_PROVABLE = "not_provable"
    STEP_LIMIT = "step_limit"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    HINT_ERROR = "hint_error"
    FORBIDDEN_HINT = "forbidden_hint"
    EXECUTION_ERROR = "execution_error"
    WORKER_CRASHED = "worker_crashed"
    POOL_CLOSED = "pool_closed"


class RunFailure(Exception):
    """A Cairo run that did not produce a result; `reason` says why, `message` what to do."""

    def __init__(self, reason: FailureReason, message: str) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message

    def to_wire(self) -> dict[str, str]:
        return {"reason": self.reason.value, "message": self.message}

    @classmethod
    def from_wire(cls, data: dict[str, str]) -> RunFailure:
        return cls(FailureReason(data["reason"]), data["message"])
