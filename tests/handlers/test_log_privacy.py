"""Nothing a student types reaches the logs, at any level, on the happy path or on errors."""

from __future__ import annotations

import logging

import pytest

from bot.transport import LocalChat
from tests.handlers.conftest import GOOD_TEXT, submit_sheet


async def test_a_whole_journey_at_debug_logs_no_answer(
    student: LocalChat, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        await submit_sheet(student)
        await student.send("/mysheet")
        await student.send("/consent")
        await student.send("x" * 3000)  # a refused answer too
    assert caplog.records  # the libraries did log: we really looked
    logged = caplog.text
    for answer in GOOD_TEXT.values():
        assert answer not in logged
    assert "sam.jones" not in logged.lower()
