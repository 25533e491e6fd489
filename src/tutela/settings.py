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
    "TUTELA_PROVIDER_NAME": "The provider's legal name, as reports to the EU Centre carry it "
    "(Art 13(1)(a)).",
    "TUTELA_PROVIDER_LEGAL_REPRESENTATIVE": "The provider's legal representative in the EU "
    "(Art 13(1)(a)).",
    "TUTELA_PROVIDER_CONTACT": "The provider's point of contact for authorities, e.g. an e-mail "
    "address (Art 13(1)(a)).",
    "TUTELA_PROVIDER_COUNTRY": "ISO 3166 code of the Member State of the provider's main "
    "establishment.",
    "TUTELA_PROVIDER_SERVICES": "Comma-separated names of the provider's services that reports "
    "may name.",
    "TUTELA_SIGNING_KEY_FILE": "Ed25519 private key (PEM) that signs reports (Art 13(1)(b)); "
    "default DATA_DIR/keys/provider-ed25519.pem, written by `tutela keys generate`.",
    "TUTELA_CENTRE_URL": "Base URL of the EU Centre node that receives reports "
    "(e.g. https://centre.example).",
    "TUTELA_SECRETS_KEY": "Base64 of a 32-byte AES-GCM key that encrypts stored exchange "
    "credentials (e.g. NCMEC reporting) at rest.",
    "TUTELA_OUTBOX_MAX_ATTEMPTS": "Tries before a message to another node is marked failed and an "
    "alert is raised (default 12).",
    "TUTELA_JOB_LEASE_S": "Seconds a detection worker holds a claimed job before another worker may "
    "reclaim it, e.g. after a crash (default 120).",
    "TUTELA_VAULT_KEY": "Base64 of the 32-byte master key that wraps the evidence vault's data "
    "keys; make one with `tutela vault keygen`.",
    "TUTELA_VAULT_KEY_FILE": "File holding the vault master key (base64), instead of "
    "TUTELA_VAULT_KEY; `tutela vault keygen --out FILE` writes one.",
    "TUTELA_VAULT_RETENTION_DAYS": "Days preserved evidence is kept before it is destroyed, counted "
    "from the report or removal (default 365; Art 22(2): at most 12 months).",
    "TUTELA_SESSION_IDLE_MINUTES": "Minutes without a request after which a console session ends "
    "(default 30).",
    "TUTELA_SESSION_MAX_HOURS": "Hours after login at which a console session ends however busy "
    "(default 12).",
}


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("tutela-data")
    database_url: str | None = None
    media: MediaLimits = field(default_factory=MediaLimits)
    job_lease_s: float = 120.0
    provider_name: str = ""
    provider_legal_representative: str = ""
    provider_contact: str = ""
    provider_country: str = ""
    provider_services: tuple[str, ...] = ()
    signing_key_file: Path | None = None
    centre_url: str | None = None
    secrets_key: str | None = field(default=None, repr=False)
    outbox_max_attempts: int = 12
    vault_key: str | None = field(default=None, repr=False)
    vault_key_file: Path | None = None
    vault_retention_days: int = 365
    session_idle_minutes: int = 30
    session_max_hours: int = 12

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
            job_lease_s=_float(env, "TUTELA_JOB_LEASE_S", 120.0),
            provider_name=env.get("TUTELA_PROVIDER_NAME", ""),
            provider_legal_representative=env.get("TUTELA_PROVIDER_LEGAL_REPRESENTATIVE", ""),
            provider_contact=env.get("TUTELA_PROVIDER_CONTACT", ""),
            provider_country=env.get("TUTELA_PROVIDER_COUNTRY", "").upper(),
            provider_services=tuple(
                name.strip()
                for name in env.get("TUTELA_PROVIDER_SERVICES", "").split(",")
                if name.strip()
            ),
            signing_key_file=Path(env["TUTELA_SIGNING_KEY_FILE"])
            if env.get("TUTELA_SIGNING_KEY_FILE")
            else None,
            centre_url=env.get("TUTELA_CENTRE_URL") or None,
            secrets_key=env.get("TUTELA_SECRETS_KEY") or None,
            outbox_max_attempts=_int(env, "TUTELA_OUTBOX_MAX_ATTEMPTS", 12),
            vault_key=env.get("TUTELA_VAULT_KEY") or None,
            vault_key_file=Path(env["TUTELA_VAULT_KEY_FILE"])
            if env.get("TUTELA_VAULT_KEY_FILE")
            else None,
            vault_retention_days=_int(env, "TUTELA_VAULT_RETENTION_DAYS", 365),
            session_idle_minutes=_int(env, "TUTELA_SESSION_IDLE_MINUTES", 30),
            session_max_hours=_int(env, "TUTELA_SESSION_MAX_HOURS", 12),
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
