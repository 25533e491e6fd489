"""How a node's own log lines look: level and format from the settings, one line per record.

`TUTELA_LOG_FORMAT=json` writes JSON Lines (time, level, logger, message, and the exception type
when there is one) for log collectors. Log records carry ids, counts and codes, never content
bytes or hashes of content a user uploaded (DESIGN ground rule 2); tracebacks are not written in
JSON form, only the exception's type, since their frames may hold request data.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")


class JsonLines(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = record.exc_info[0].__name__
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: str = "warning", fmt: str = "text") -> None:
    """Send Tutela's and the server's records at `level` and above to stderr in `fmt`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if fmt == "json" else logging.Formatter("tutela: %(message)s"))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
