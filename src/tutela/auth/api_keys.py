"""API keys: issued once, stored as a digest, checked in constant time, scoped, revocable, each
belonging to one platform (tutela.auth.platforms); creation and revocation are audited."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from tutela.audit.log import SYSTEM, Subject, record
from tutela.auth.models import ApiKey
from tutela.auth.platforms import check_platform
from tutela.clock import utc_now
from tutela.db.database import Database
from tutela.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized

# One scope per endpoint family of the provider API; `metrics` is for a Prometheus scraper.
SCOPES = ("hash", "match", "items:write", "items:read", "webhooks", "metrics")
KEY_PREFIX = "tut_"
KEY_BYTES = 32
# Characters of the key (after "tut_") stored in clear to find its row without scanning.
LOOKUP_CHARS = 8
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# `last_used_at` is rewritten at most this often, so busy keys do not turn reads into writes.
LAST_USED_GRANULARITY = timedelta(minutes=1)
# How long a checked key is trusted without asking the database again: a revoked key stops
# working within this time. Busy clients then cost no database read per request.
KEY_CACHE_S = 1.0
KEY_CACHE_ENTRIES = 1024
# Locks that keep concurrent look-ups of one key to one database read (see ApiKeyCache).
ASKING_STRIPES = 64


@dataclass(frozen=True, slots=True)
class ApiKeyView:
    id: int
    name: str
    # Whose objects the key sees and changes.
    platform: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "platform": self.platform,
            "prefix": KEY_PREFIX + self.prefix,
            "scopes": list(self.scopes),
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
        }


def create_api_key(
    database: Database,
    name: str,
    scopes: Sequence[str],
    *,
    platform: str | None = None,
    actor: str = SYSTEM,
) -> tuple[ApiKeyView, str]:
    """Make a key of `platform` (default: a platform named as the key); return its view and the
    key itself, which is never shown again. `actor` is who the audit log names."""
    if not NAME.match(name):
        raise InvalidInput("key name must be 1-64 letters, digits or _.-")
    platform = check_platform(name if platform is None else platform)
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise InvalidInput(f"scopes must be among {', '.join(SCOPES)}; got {unknown or 'none'}")
    secret = secrets.token_urlsafe(KEY_BYTES)
    try:
        with database.unit_of_work() as session:
            if session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
                raise Conflict(f"an API key named {name!r} already exists")
            row = ApiKey(
                name=name,
                platform=platform,
                prefix=secret[:LOOKUP_CHARS],
                digest=_digest(secret),
                scopes=sorted(set(scopes)),
                created_at=utc_now(),
            )
            session.add(row)
            session.flush()
            view = _view(row)
            record(
                session,
                actor,
                "api_key_create",
                Subject("api_key", name),
                {"platform": platform, "scopes": list(view.scopes), "prefix": view.prefix},
            )
    except IntegrityError:
        raise Conflict(f"an API key named {name!r} already exists") from None
    return view, KEY_PREFIX + secret


def list_api_keys(database: Database) -> list[ApiKeyView]:
    with database.reader() as session:
        return [_view(row) for row in session.scalars(select(ApiKey).order_by(ApiKey.name))]


def revoke_api_key(database: Database, name: str, *, actor: str = SYSTEM) -> ApiKeyView:
    """Revoke the key (audited; revoking a revoked key changes and records nothing)."""
    with database.unit_of_work() as session:
        row = session.scalar(select(ApiKey).where(ApiKey.name == name))
        if row is None:
            raise NotFound(f"no API key named {name!r}")
        if row.revoked_at is None:
            row.revoked_at = utc_now()
            record(
                session,
                actor,
                "api_key_revoke",
                Subject("api_key", name),
                {"platform": row.platform},
            )
        return _view(row)


def authenticate(database: Database, key: str | None, scope: str | None) -> ApiKeyView:
    """The active key behind `key`; Unauthorized when there is none, Forbidden without `scope`
    (None: any scope)."""
    if not key or not key.startswith(KEY_PREFIX) or len(key) < len(KEY_PREFIX) + LOOKUP_CHARS:
        raise Unauthorized("a valid API key is required (Authorization: Bearer KEY)")
    secret = key[len(KEY_PREFIX) :]
    digest = _digest(secret)
    with database.reader() as session:
        candidates = session.scalars(
            select(ApiKey).where(
                ApiKey.prefix == secret[:LOOKUP_CHARS], ApiKey.revoked_at.is_(None)
            )
        ).all()
    found = None
    for row in candidates:
        if hmac.compare_digest(row.digest, digest):
            found = row
    if found is None:
        raise Unauthorized("a valid API key is required (Authorization: Bearer KEY)")
    _record_use(database, found)
    view = _view(found)
    return view if scope is None else _in_scope(view, scope)


class ApiKeyCache:
    """Keys checked in the last `ttl_s` seconds, by digest (the key itself is not kept).

    `cached` answers from memory or returns None; `authenticate` asks the database and remembers
    the answer. Only valid keys are remembered: a wrong key always costs a database read. Safe to
    call from several threads.

    When a busy client's entry runs out, all its requests in flight miss at once (32 at a time
    in bench/pipeline.py): one of them asks the database while the others wait for its answer
    (a lock per stripe of digests). Each asking for itself took a pooled connection apiece, past
    the pool's size, and about eight connections a second were opened and closed for it on
    PostgreSQL.
    """

    def __init__(
        self,
        database: Database,
        *,
        ttl_s: float = KEY_CACHE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._database = database
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, ApiKeyView]] = OrderedDict()
        self._lock = threading.Lock()
        self._asking = [threading.Lock() for _ in range(ASKING_STRIPES)]

    def cached(self, key: str | None, scope: str) -> ApiKeyView | None:
        """The key's view if it was found valid within `ttl_s`; Forbidden if it lacks `scope`."""
        if not key or not key.startswith(KEY_PREFIX):
            return None
        digest = _digest(key[len(KEY_PREFIX) :])
        with self._lock:
            entry = self._entries.get(digest)
        if entry is None or self._clock() - entry[0] >= self._ttl_s:
            return None
        return _in_scope(entry[1], scope)

    def authenticate(self, key: str | None, scope: str) -> ApiKeyView:
        """As `authenticate`, remembering a valid key (with all its scopes) for `ttl_s`; a key
        being asked about already waits for that answer."""
        if not key or not key.startswith(KEY_PREFIX):
            return authenticate(self._database, key, scope)  # refused without a database read
        digest = _digest(key[len(KEY_PREFIX) :])
        with self._asking[int(digest[:8], 16) % ASKING_STRIPES]:
            found = self.cached(key, scope)
            if found is not None:  # the request ahead of this one asked
                return found
            view = authenticate(self._database, key, None)
            with self._lock:
                self._entries[digest] = (self._clock(), view)
                while len(self._entries) > KEY_CACHE_ENTRIES:
                    self._entries.popitem(last=False)
        return _in_scope(view, scope)


def _in_scope(view: ApiKeyView, scope: str) -> ApiKeyView:
    if scope not in view.scopes:
        raise Forbidden(f"this API key lacks the scope {scope!r}")
    return view


def _record_use(database: Database, row: ApiKey) -> None:
    now = utc_now()
    if row.last_used_at is not None and now - row.last_used_at < LAST_USED_GRANULARITY:
        return
    with database.unit_of_work() as session:
        session.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))
    row.last_used_at = now


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _view(row: ApiKey) -> ApiKeyView:
    return ApiKeyView(
        id=row.id,
        name=row.name,
        platform=row.platform,
        prefix=row.prefix,
        scopes=tuple(row.scopes),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )
