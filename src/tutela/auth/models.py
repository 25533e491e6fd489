"""Tables of the auth domain: API keys, kept only as SHA-256 digests with a lookup prefix."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tutela.auth.platforms import DEFAULT_PLATFORM, PLATFORM_MAX
from tutela.clock import utc_now
from tutela.db.base import Base
from tutela.db.types import UtcDateTime


class ApiKey(Base):
    """One key: its name, the first characters (to find it) and the digest of the whole."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # The platform whose objects the key sees and changes (several keys may share one).
    platform: Mapped[str] = mapped_column(String(PLATFORM_MAX), server_default=DEFAULT_PLATFORM)
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    # SHA-256 suffices: keys carry 256 random bits, so no slow password hash is needed.
    digest: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
