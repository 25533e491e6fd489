"""Exchange credentials from the environment or a JSON file; never printed, logged or stored."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tutela.errors import ConfigurationError

# Every variable read here and what it means (documented with the other settings).
CREDENTIAL_VARIABLES = {
    "TUTELA_NCMEC_USERNAME": "NCMEC hash-sharing API user name.",
    "TUTELA_NCMEC_PASSWORD": "NCMEC hash-sharing API password.",
    "TUTELA_NCMEC_ENVIRONMENT": "NCMEC environment name (Industry, NGO, test_Industry…; "
    "default Industry).",
    "TUTELA_NCMEC_URL": "Base URL of the NCMEC API, overriding the environment (for testing).",
    "TUTELA_STOPNCII_SUBSCRIPTION_KEY": "StopNCII API subscription key.",
    "TUTELA_STOPNCII_FETCH_KEY": "StopNCII FetchHashes function key.",
    "TUTELA_STOPNCII_URL": "Base URL of the StopNCII API (default https://api.stopncii.org/v1).",
}


@dataclass(frozen=True)
class NcmecCredentials:
    username: str
    password: str = field(repr=False)
    environment: str = "Industry"
    url: str | None = None


@dataclass(frozen=True)
class StopNciiCredentials:
    subscription_key: str = field(repr=False)
    fetch_key: str = field(repr=False)
    url: str | None = None


def ncmec_credentials(
    file: Path | None = None, env: Mapping[str, str] | None = None
) -> NcmecCredentials:
    values = _source(file, env, "TUTELA_NCMEC_")
    username, password = values.get("username"), values.get("password")
    if not username or not password:
        raise ConfigurationError(
            "NCMEC credentials missing: set TUTELA_NCMEC_USERNAME and TUTELA_NCMEC_PASSWORD "
            "or pass --credentials FILE"
        )
    return NcmecCredentials(
        username=username,
        password=password,
        environment=values.get("environment") or "Industry",
        url=values.get("url") or None,
    )


def stopncii_credentials(
    file: Path | None = None, env: Mapping[str, str] | None = None
) -> StopNciiCredentials:
    values = _source(file, env, "TUTELA_STOPNCII_")
    subscription, fetch = values.get("subscription_key"), values.get("fetch_key")
    if not subscription or not fetch:
        raise ConfigurationError(
            "StopNCII credentials missing: set TUTELA_STOPNCII_SUBSCRIPTION_KEY and "
            "TUTELA_STOPNCII_FETCH_KEY or pass --credentials FILE"
        )
    return StopNciiCredentials(subscription, fetch, values.get("url") or None)


def _source(file: Path | None, env: Mapping[str, str] | None, prefix: str) -> dict[str, str]:
    """Keys in lower case without the prefix: from the JSON file if given, else the environment."""
    if file is not None:
        return {k.lower(): str(v) for k, v in _read_json(file).items() if v is not None}
    env = os.environ if env is None else env
    return {k[len(prefix) :].lower(): v for k, v in env.items() if k.startswith(prefix)}


def _read_json(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigurationError(f"cannot read credentials file {file}: {error.strerror}") from None
    except json.JSONDecodeError:
        # Never echo the content: it holds secrets.
        raise ConfigurationError(f"credentials file {file} is not valid JSON") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"credentials file {file} must hold a JSON object")
    return data
