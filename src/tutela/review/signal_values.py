"""An item's stored signals as plain `type → value` text (PDQ is stored with its quality)."""

from __future__ import annotations

from typing import Any


def signal_values(signals: dict[str, Any] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in (signals or {}).items():
        out[name] = str(value["hash"]) if isinstance(value, dict) else str(value)
    return out
