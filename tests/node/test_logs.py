"""Structured logs: one line per event, JSON or key=value, with the event's fields."""

from __future__ import annotations

import json
import logging

import pytest

from node import logs


def emit(capsys: pytest.CaptureFixture[str], json_format: bool) -> str:
    logs.configure("info", json_format=json_format)
    logging.getLogger("node.test").info("job dropped", extra={"reason": "bad sig", "peer": "12D3"})
    logging.getLogger("node.test").debug("not shown")
    return capsys.readouterr().err


def test_json_lines_carry_the_fields(capsys: pytest.CaptureFixture[str]) -> None:
    (line,) = emit(capsys, json_format=True).splitlines()
    event = json.loads(line)
    assert event["msg"] == "job dropped" and event["level"] == "info"
    assert event["reason"] == "bad sig" and event["peer"] == "12D3"


def test_text_lines_are_key_value(capsys: pytest.CaptureFixture[str]) -> None:
    (line,) = emit(capsys, json_format=False).splitlines()
    assert line.endswith('job dropped reason="bad sig" peer=12D3')


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="log level"):
        logs.configure("loud")
