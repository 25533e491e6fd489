"""The node's log lines: level and format from the settings, JSON Lines for collectors."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from tutela.errors import ConfigurationError
from tutela.logs import configure_logging
from tutela.settings import Settings


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_format_writes_one_object_per_line_with_time_level_logger_and_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("info", "json")
    logging.getLogger("tutela.outbox").info("delivered %d messages", 3)
    line = json.loads(capsys.readouterr().err.strip())
    assert line["level"] == "info" and line["logger"] == "tutela.outbox"
    assert line["message"] == "delivered 3 messages" and line["time"].endswith("+00:00")


def test_json_format_names_an_exception_by_type_without_its_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("warning", "json")
    try:
        raise ValueError("request data that must not reach the log")
    except ValueError:
        logging.getLogger("tutela").exception("delivery failed")
    line = json.loads(capsys.readouterr().err.strip())
    assert line["exception"] == "ValueError" and "request data" not in json.dumps(line)


def test_records_below_the_level_are_not_written(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("error", "text")
    logging.getLogger("tutela").warning("not shown")
    assert capsys.readouterr().err == ""


def test_level_and_format_come_from_the_environment() -> None:
    settings = Settings.from_env({"TUTELA_LOG_LEVEL": "INFO", "TUTELA_LOG_FORMAT": "json"})
    assert (settings.log_level, settings.log_format) == ("info", "json")
    assert (Settings.from_env({}).log_level, Settings.from_env({}).log_format) == (
        "warning",
        "text",
    )


def test_an_unknown_level_stops_start_up_with_the_choices() -> None:
    with pytest.raises(ConfigurationError, match="debug, info, warning, error"):
        Settings.from_env({"TUTELA_LOG_LEVEL": "verbose"})
