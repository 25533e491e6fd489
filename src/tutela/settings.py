"""Node settings, read from the environment once by the composition root (never at import)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tutela.errors import ConfigurationError
from tutela.media.limits import MediaLimits

# Every setting, its environment variable and what it means. `tutela settings` prints this table
# and a test checks that each is documented in the README.
SETTINGS_DOC: dict[str, str] = {
    "TUTELA_DATA_DIR": "Directory for the SQLite database, index snapshots and other local state "
    "(default ./tutela-data).",
    "TUTELA_DATABASE_URL": "SQLAlchemy URL of a PostgreSQL database "
    "(postgresql+psycopg://user@host/db); unset means SQLite in the data directory.",
    "TUTELA_MAX_FILE_BYTES": "Largest media file accepted, in bytes (default 104857600).",
    "TUTELA_MAX_PIXELS": "Largest image accepted, width × height from the header "
    "(default 50000000).",
    "TUTELA_DECODE_TIMEOUT_S": "Seconds one decode may take in a worker (default 20).",
    "TUTELA_WORKER_MEMORY_BYTES": "Address-space cap of a decoding worker (default 2147483648).",
}


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("tutela-data")
    database_url: str | None = None
    media: MediaLimits = field(default_factory=MediaLimits)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        defaults = MediaLimits()
        media = MediaLimits(
            max_bytes=_int(env, "TUTELA_MAX_FILE_BYTES", defaults.max_bytes),
            max_pixels=_int(env, "TUTELA_MAX_PIXELS", defaults.max_pixels),
            decode_timeout_s=_float(env, "TUTELA_DECODE_TIMEOUT_S", defaults.decode_timeout_s),
            worker_memory_bytes=_int(
                env, "TUTELA_WORKER_MEMORY_BYTES", defaults.worker_memory_bytes
            ),
        )
        return cls(
            data_dir=Path(env.get("TUTELA_DATA_DIR") or "tutela-data"),
            database_url=env.get("TUTELA_DATABASE_URL") or None,
            media=media,
        )

    @property
    def sqlalchemy_url(self) -> str:
        """The database to use: PostgreSQL when configured, else SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tutela.db').resolve()}"


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, got {raw!r}") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from None
