"""Node settings, read from the environment once by the composition root (never at import)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tutela.errors import ConfigurationError
from tutela.logs import LOG_FORMATS, LOG_LEVELS
from tutela.media.limits import MediaLimits

# Every setting, its environment variable and what it means. `tutela settings` prints this table
# and a test checks that each is documented in the README.
SETTINGS_DOC: dict[str, str] = {
    "TUTELA_DATA_DIR": "Directory for the SQLite database, index snapshots and other local state "
    "(default ./tutela-data).",
    "TUTELA_DATABASE_URL": "SQLAlchemy URL of a PostgreSQL database "
    "(postgresql+psycopg://user@host/db); unset means SQLite in the data directory.",
    "TUTELA_WEBHOOK_ALLOW_PRIVATE": "Set to 1 to let platforms register webhooks at loopback, "
    "private or reserved addresses (development, or receivers on the node's own network); by "
    "default /v1/webhooks refuses them (default off).",
    "TUTELA_LOG_LEVEL": "Lowest level of the node's log lines on stderr: debug, info, warning or "
    "error (default warning). Log lines carry ids, counts and codes, never content.",
    "TUTELA_LOG_FORMAT": "text (default) or json: one JSON object per line (time, level, logger, "
    "message) for log collectors.",
    "TUTELA_MAX_FILE_BYTES": "Largest media file accepted, in bytes (default 104857600).",
    "TUTELA_MAX_PIXELS": "Largest image accepted, width × height from the header "
    "(default 50000000).",
    "TUTELA_DECODE_TIMEOUT_S": "Seconds one decode may take in a worker (default 20).",
    "TUTELA_WORKER_MEMORY_BYTES": "Address-space cap of a decoding worker (default 2147483648).",
    "TUTELA_MAX_VIDEO_BYTES": "Largest video file accepted, in bytes (default 4294967296); videos "
    "are streamed from disk, never read whole into memory.",
    "TUTELA_MAX_VIDEO_SECONDS": "Longest video decoded, in seconds, by its header and by the "
    "frames it really holds (default 14400).",
    "TUTELA_VIDEO_TIMEOUT_S": "Seconds one video may take to decode and hash in a worker "
    "(default 1800).",
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
    "TUTELA_REPORT_NCMEC": "Set to 1 to also file every confirmed report with NCMEC's "
    "CyberTipline (providers under 18 U.S.C. 2258A), with the credentials stored by `tutela outbox "
    "ncmec credentials`; the content is uploaded from the evidence vault (default off).",
    "TUTELA_OUTBOX_MAX_ATTEMPTS": "Tries before a message to another node is marked failed and an "
    "alert is raised (default 12).",
    "TUTELA_JOB_LEASE_S": "Seconds a detection worker holds a claimed job before another worker may "
    "reclaim it, e.g. after a crash (default 120). A worker whose loop shows no progress for the "
    "longer of this and twice TUTELA_DECODE_TIMEOUT_S stops renewing its leases and exits "
    "(status 75) to be replaced.",
    "TUTELA_INLINE_HASHING_DEPTH": "Uploads that may wait for the API's own hashing processes, "
    "per process, to be hashed and decided before they are answered; more at once (a burst) are "
    "queued for the detection workers (default 16; 0 queues every upload).",
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
    "TUTELA_CONSOLE_INSECURE_COOKIES": "Development only: set to 1 to send the console's session "
    "cookie without the Secure flag, for plain-HTTP testing on one machine (default off).",
    "TUTELA_REVIEW_SLA_HOURS": "Hours a case may wait for its first decision, per queue priority: "
    "comma-separated NAME=HOURS for urgent, action, close and far "
    "(default urgent=1,action=4,close=24,far=72).",
    "TUTELA_REVIEW_FOUR_EYES": "Set to 1 so that two different reviewers must confirm a case "
    "before anything (evidence, report, takedown, notice) leaves the node (default off).",
    "TUTELA_REPORT_LEGAL_BASIS": "The legal basis that reports name (Art 13(1)(k)).",
    "TUTELA_NOTICE_SILENCE_MONTHS": "Months a user notice about a report is held back before "
    "release, unless the Centre says otherwise (default 3; Art 12(2)).",
    "TUTELA_TAKEDOWN_RESEND_HOURS": "Hours after which an unconfirmed takedown request is sent to "
    "the platform again, doubling each time up to a day (default 1).",
    "TUTELA_TAKEDOWN_HOLD_WAIT_MINUTES": "Minutes a takedown of a case reported to the EU Centre "
    "waits before it is sent, so that an authority's hold on removal (Art 48(6)-(7)) can still "
    "arrive through the Centre; 0 sends at once (default 60).",
    "TUTELA_COMPLAINT_WINDOW_MONTHS": "Months after a decision within which a user's complaint is "
    "accepted (default 6; DSA Art 20(1)).",
    "TUTELA_CENTRE_SIGNING_KEY_FILE": "On a centre node: the Ed25519 private key (PEM) that signs "
    "its messages and indicator feed; default DATA_DIR/keys/centre-ed25519.pem, written by "
    "`tutela centre keys generate`.",
    "TUTELA_CENTRE_PUBLIC_KEY_FILE": "On a provider node: the EU Centre's public key (PEM); "
    "messages from the centre and its indicator feed must verify against it.",
    "TUTELA_LEA_HOLD_MAX_DAYS": "Longest hold on user notification or removal an authority may "
    "ask for, in days (default 548; Art 48(6)-(7): up to 18 months).",
    "TUTELA_OUTBOX_INTERVAL_S": "Seconds the outbox sender waits when nothing is due (default 1).",
    "TUTELA_MATCHER_REFRESH_MS": "Milliseconds between the API process's background reads of "
    "indicator changes: a bank change is matched by `/v1/match` and `/hma` lookups within this "
    "bound plus one read (default 200).",
    "TUTELA_OUTBOX_CLAIM_S": "Seconds a sender holds the messages it claimed; after a sender "
    "crash, another takes them over once this runs out (default 300).",
    "TUTELA_OUTBOX_BACKOFF_S": "Seconds before the first retry of a message another node did not "
    "take; each further failure doubles it, with jitter, up to 6 hours (default 5).",
    "TUTELA_FEED_INTERVAL_S": "Seconds between polls of the centre's indicator feed by subscribed "
    "banks (default 60).",
    "TUTELA_HTTP_HEADER_TIMEOUT_S": "Seconds a client has to send a request's line and headers, "
    "from its connection or its first byte (default 10); a slower one is answered 408 and "
    "disconnected.",
    "TUTELA_HTTP_BODY_TIMEOUT_S": "Seconds a client has to send a request's body, from the end of "
    "its headers (default 120); a slower one (a client trickling bytes) is answered 408 and "
    "disconnected.",
    "TUTELA_BEHIND_TLS": "Set to 1 when the node is reached only over HTTPS through a proxy: every "
    "response then carries Strict-Transport-Security, as one to a request made over HTTPS "
    "always does (default off).",
    "TUTELA_SIGNED_MESSAGE_MAX_AGE_S": "Oldest signing time a node accepts on a signed report or "
    "message, in seconds before its own clock (default 604800, a week: a provider signs a report "
    "once, when it files it, and its outbox may retry for hours); older ones are refused "
    "(`stale_signature`), unless they repeat one already taken, which is answered as before.",
    "TUTELA_SIGNED_MESSAGE_MAX_SKEW_S": "How far ahead of a node's clock a signing time may lie, in "
    "seconds, and how far either way the time stamp of a signed request (status poll, feed page) "
    "may be (default 300).",
    "TUTELA_CENTRE_MAX_REPORT_BYTES": "On a centre node: the largest signed report body it reads, "
    "content attached (base64) included (default 67108864); larger ones are refused (413) while "
    "they stream in, and nothing is read before the Tutela-Key-Id names a registered provider.",
    "TUTELA_ALERT_WEBHOOK_URL": "URL the operator's alerts (floods, failed messages, SLA breaches, "
    "overdue deadlines) are POSTed to, signed like platform webhooks (docs/webhooks.md); unset "
    "sends none (they still show in the console, `tutela status` and /metrics).",
    "TUTELA_ALERT_WEBHOOK_SECRET": "Secret (16 characters or more) that signs the alert webhook; "
    "required with TUTELA_ALERT_WEBHOOK_URL.",
    "TUTELA_DSA_TDB_URL": "Base URL of the EU DSA Transparency Database, e.g. "
    "https://transparency.dsa.ec.europa.eu; set, every statement of reasons goes there too "
    "(without personal data, DSA Art 24(5)) through the `dsa-tdb` transport; unset, none is sent.",
    "TUTELA_DSA_TDB_TOKEN": "The Transparency Database API token (sent as a Bearer token); "
    "required with TUTELA_DSA_TDB_URL.",
    "TUTELA_TRUSTED_PROXIES": "Comma-separated addresses or networks (CIDR) of reverse proxies whose "
    "X-Forwarded-For header names the client, e.g. 127.0.0.1,10.0.0.0/8; unset trusts no header "
    "and the client is the connecting address (login limits count per client address).",
    "TUTELA_REMOVAL_DEADLINE_HOURS": "Hours a provider has to remove or disable the items of a "
    "removal order, from its receipt (default 24; Art 14(1)); past it the order is overdue.",
    "TUTELA_AUTHORITY_NAME": "On an authority node: the issuing authority's name, as its orders "
    "carry it (Annex IV).",
    "TUTELA_AUTHORITY_CONTACT": "On an authority node: the contact point its orders name "
    "(Annex IV), e.g. an e-mail address.",
    "TUTELA_AUTHORITY_COUNTRY": "On an authority node: ISO 3166 code of its Member State.",
    "TUTELA_AUTHORITY_URL": "On an authority node: its base URL as providers reach it; orders "
    "carry it, and providers send their signed execution reports to URL/v1/order-reports.",
    "TUTELA_AUTHORITY_SIGNING_KEY_FILE": "On an authority node: the Ed25519 private key (PEM) "
    "that signs its orders; default DATA_DIR/keys/authority-ed25519.pem, written by "
    "`tutela authority keys generate`.",
    "TUTELA_RISK_REASSESS_MONTHS": "Months after a risk assessment's sign-off at which the next one "
    "is due (default 36; Art 3(4)); a significant change recorded by the compliance officer makes "
    "it due at once.",
    "TUTELA_RISK_FIGURE_MONTHS": "Calendar months of the node's own figures (matches, confirmed "
    "reports, complaints per service part) a risk assessment shows and scores, the current month "
    "included (default 12).",
    "TUTELA_RISK_WEIGHTS": "Points of the risk method over its defaults, comma-separated NAME=POINTS, "
    "e.g. live_streaming=3,children_use.likely=2 (names in the README's risk section).",
    "TUTELA_RISK_HIGH_SCORE": "Score from which a service part's risk level is high (default 10).",
    "TUTELA_RISK_MEDIUM_SCORE": "Score from which a service part's risk level is medium "
    "(default 5); below it, low.",
}


# Review queue priorities and the hours a case may wait in each (overridable, see SETTINGS_DOC).
DEFAULT_SLA_HOURS: tuple[tuple[str, float], ...] = (
    ("urgent", 1.0),
    ("action", 4.0),
    ("close", 24.0),
    ("far", 72.0),
)
DEFAULT_LEGAL_BASIS = "Regulation on preventing and combating child sexual abuse, Art 12(1)"


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("tutela-data")
    database_url: str | None = None
    log_level: str = "warning"
    webhook_allow_private: bool = False
    log_format: str = "text"
    media: MediaLimits = field(default_factory=MediaLimits)
    job_lease_s: float = 120.0
    inline_hashing_depth: int = 16
    provider_name: str = ""
    provider_legal_representative: str = ""
    provider_contact: str = ""
    provider_country: str = ""
    provider_services: tuple[str, ...] = ()
    signing_key_file: Path | None = None
    centre_url: str | None = None
    secrets_key: str | None = field(default=None, repr=False)
    report_ncmec: bool = False
    outbox_max_attempts: int = 12
    vault_key: str | None = field(default=None, repr=False)
    vault_key_file: Path | None = None
    vault_retention_days: int = 365
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    console_insecure_cookies: bool = False
    review_sla_hours: tuple[tuple[str, float], ...] = DEFAULT_SLA_HOURS
    review_four_eyes: bool = False
    report_legal_basis: str = DEFAULT_LEGAL_BASIS
    notice_silence_months: int = 3
    takedown_resend_hours: float = 1.0
    takedown_hold_wait_minutes: float = 60.0
    complaint_window_months: int = 6
    centre_signing_key_file: Path | None = None
    centre_public_key_file: Path | None = None
    lea_hold_max_days: int = 548
    outbox_interval_s: float = 1.0
    matcher_refresh_ms: int = 200
    feed_interval_s: float = 60.0
    outbox_claim_s: float = 300.0
    outbox_backoff_s: float = 5.0
    http_header_timeout_s: float = 10.0
    http_body_timeout_s: float = 120.0
    behind_tls: bool = False
    signed_message_max_age_s: float = 604800.0
    signed_message_max_skew_s: float = 300.0
    centre_max_report_bytes: int = 64 * 1024 * 1024
    alert_webhook_url: str | None = None
    alert_webhook_secret: str | None = field(default=None, repr=False)
    # DSA Art 24(5): the Transparency Database and its API token; unset, no copy is sent.
    dsa_tdb_url: str | None = None
    dsa_tdb_token: str | None = field(default=None, repr=False)
    trusted_proxies: tuple[str, ...] = ()
    removal_deadline_hours: float = 24.0
    authority_name: str = ""
    authority_contact: str = ""
    authority_country: str = ""
    authority_url: str | None = None
    authority_signing_key_file: Path | None = None
    risk_reassess_months: int = 36
    risk_figure_months: int = 12
    # NAME=POINTS over the method's defaults; the names are checked by tutela.risk.method.
    risk_weights: tuple[tuple[str, int], ...] = ()
    risk_high_score: int = 10
    risk_medium_score: int = 5

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
            max_video_bytes=_int(env, "TUTELA_MAX_VIDEO_BYTES", defaults.max_video_bytes),
            max_video_seconds=_float(env, "TUTELA_MAX_VIDEO_SECONDS", defaults.max_video_seconds),
            video_timeout_s=_float(env, "TUTELA_VIDEO_TIMEOUT_S", defaults.video_timeout_s),
        )
        return cls(
            data_dir=Path(env.get("TUTELA_DATA_DIR") or "tutela-data"),
            database_url=env.get("TUTELA_DATABASE_URL") or None,
            webhook_allow_private=_flag(env, "TUTELA_WEBHOOK_ALLOW_PRIVATE"),
            log_level=_choice(env, "TUTELA_LOG_LEVEL", LOG_LEVELS, "warning"),
            log_format=_choice(env, "TUTELA_LOG_FORMAT", LOG_FORMATS, "text"),
            media=media,
            job_lease_s=_float(env, "TUTELA_JOB_LEASE_S", 120.0),
            inline_hashing_depth=_int(env, "TUTELA_INLINE_HASHING_DEPTH", 16),
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
            report_ncmec=_flag(env, "TUTELA_REPORT_NCMEC"),
            outbox_max_attempts=_int(env, "TUTELA_OUTBOX_MAX_ATTEMPTS", 12),
            vault_key=env.get("TUTELA_VAULT_KEY") or None,
            vault_key_file=Path(env["TUTELA_VAULT_KEY_FILE"])
            if env.get("TUTELA_VAULT_KEY_FILE")
            else None,
            vault_retention_days=_int(env, "TUTELA_VAULT_RETENTION_DAYS", 365),
            session_idle_minutes=_int(env, "TUTELA_SESSION_IDLE_MINUTES", 30),
            session_max_hours=_int(env, "TUTELA_SESSION_MAX_HOURS", 12),
            console_insecure_cookies=_flag(env, "TUTELA_CONSOLE_INSECURE_COOKIES"),
            review_sla_hours=_sla_hours(env.get("TUTELA_REVIEW_SLA_HOURS", "")),
            review_four_eyes=_flag(env, "TUTELA_REVIEW_FOUR_EYES"),
            report_legal_basis=env.get("TUTELA_REPORT_LEGAL_BASIS") or DEFAULT_LEGAL_BASIS,
            notice_silence_months=_int(env, "TUTELA_NOTICE_SILENCE_MONTHS", 3),
            takedown_resend_hours=_float(env, "TUTELA_TAKEDOWN_RESEND_HOURS", 1.0),
            takedown_hold_wait_minutes=_float(env, "TUTELA_TAKEDOWN_HOLD_WAIT_MINUTES", 60.0),
            complaint_window_months=_int(env, "TUTELA_COMPLAINT_WINDOW_MONTHS", 6),
            centre_signing_key_file=_path(env, "TUTELA_CENTRE_SIGNING_KEY_FILE"),
            centre_public_key_file=_path(env, "TUTELA_CENTRE_PUBLIC_KEY_FILE"),
            lea_hold_max_days=_int(env, "TUTELA_LEA_HOLD_MAX_DAYS", 548),
            outbox_interval_s=_float(env, "TUTELA_OUTBOX_INTERVAL_S", 1.0),
            matcher_refresh_ms=_int(env, "TUTELA_MATCHER_REFRESH_MS", 200),
            feed_interval_s=_float(env, "TUTELA_FEED_INTERVAL_S", 60.0),
            outbox_claim_s=_float(env, "TUTELA_OUTBOX_CLAIM_S", 300.0),
            outbox_backoff_s=_float(env, "TUTELA_OUTBOX_BACKOFF_S", 5.0),
            http_header_timeout_s=_float(env, "TUTELA_HTTP_HEADER_TIMEOUT_S", 10.0),
            http_body_timeout_s=_float(env, "TUTELA_HTTP_BODY_TIMEOUT_S", 120.0),
            behind_tls=_flag(env, "TUTELA_BEHIND_TLS"),
            signed_message_max_age_s=_float(env, "TUTELA_SIGNED_MESSAGE_MAX_AGE_S", 604800.0),
            signed_message_max_skew_s=_float(env, "TUTELA_SIGNED_MESSAGE_MAX_SKEW_S", 300.0),
            centre_max_report_bytes=_int(env, "TUTELA_CENTRE_MAX_REPORT_BYTES", 64 * 1024 * 1024),
            alert_webhook_url=env.get("TUTELA_ALERT_WEBHOOK_URL") or None,
            alert_webhook_secret=env.get("TUTELA_ALERT_WEBHOOK_SECRET") or None,
            dsa_tdb_url=env.get("TUTELA_DSA_TDB_URL") or None,
            dsa_tdb_token=env.get("TUTELA_DSA_TDB_TOKEN") or None,
            trusted_proxies=_networks(env.get("TUTELA_TRUSTED_PROXIES", "")),
            removal_deadline_hours=_float(env, "TUTELA_REMOVAL_DEADLINE_HOURS", 24.0),
            authority_name=env.get("TUTELA_AUTHORITY_NAME", ""),
            authority_contact=env.get("TUTELA_AUTHORITY_CONTACT", ""),
            authority_country=env.get("TUTELA_AUTHORITY_COUNTRY", "").upper(),
            authority_url=env.get("TUTELA_AUTHORITY_URL") or None,
            authority_signing_key_file=_path(env, "TUTELA_AUTHORITY_SIGNING_KEY_FILE"),
            risk_reassess_months=_int(env, "TUTELA_RISK_REASSESS_MONTHS", 36),
            risk_figure_months=_int(env, "TUTELA_RISK_FIGURE_MONTHS", 12),
            risk_weights=_risk_weights(env.get("TUTELA_RISK_WEIGHTS", "")),
            risk_high_score=_int(env, "TUTELA_RISK_HIGH_SCORE", 10),
            risk_medium_score=_int(env, "TUTELA_RISK_MEDIUM_SCORE", 5),
        )

    @property
    def sqlalchemy_url(self) -> str:
        """The database to use: PostgreSQL when configured, else SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tutela.db').resolve()}"


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name)
    return Path(raw) if raw else None


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


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    """One of `choices`, case-insensitively; `default` when unset."""
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in choices:
        raise ConfigurationError(f"{name} must be one of {', '.join(choices)}; got {raw!r}")
    return raw


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _sla_hours(raw: str) -> tuple[tuple[str, float], ...]:
    """`urgent=1,action=4` over the defaults; an unknown priority name is a configuration error."""
    hours = dict(DEFAULT_SLA_HOURS)
    for part in filter(None, (p.strip() for p in raw.split(","))):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in hours:
            raise ConfigurationError(
                f"TUTELA_REVIEW_SLA_HOURS names {name!r}; priorities are {', '.join(hours)}"
            )
        try:
            hours[name] = float(value)
        except ValueError:
            raise ConfigurationError(
                f"TUTELA_REVIEW_SLA_HOURS: {part!r} is not NAME=HOURS"
            ) from None
    return tuple(hours.items())


def _risk_weights(raw: str) -> tuple[tuple[str, int], ...]:
    """`TUTELA_RISK_WEIGHTS` as (name, points) pairs; whether each name is one the risk method
    knows is checked where the method is built (tutela.risk.method)."""
    weights = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        name, _, value = part.partition("=")
        try:
            weights.append((name.strip(), int(value)))
        except ValueError:
            raise ConfigurationError(f"TUTELA_RISK_WEIGHTS: {part!r} is not NAME=POINTS") from None
    return tuple(weights)


def _networks(raw: str) -> tuple[str, ...]:
    """`TUTELA_TRUSTED_PROXIES` as normalised CIDR networks; a malformed one stops start-up."""
    networks = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        try:
            networks.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise ConfigurationError(
                f"TUTELA_TRUSTED_PROXIES: {part!r} is not an address or network"
            ) from None
    return tuple(networks)
