"""Node settings, read from the environment once by the composition root (never at import).

Each setting is declared once, as a field below: its environment variable, default, parser and
description (tutela.setting_fields). `Settings.from_env`, the errors for bad values and the README's
settings table (scripts/docs.py) are derived from these declarations.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tutela.errors import ConfigurationError
from tutela.logs import LOG_FORMATS, LOG_LEVELS
from tutela.media.limits import MediaLimits
from tutela.setting_fields import (
    Setting,
    choice,
    flag,
    names,
    nested,
    number,
    path,
    read,
    setting,
    text,
    upper_text,
    whole_number,
)

# Review queue priorities and the hours a case may wait in each (TUTELA_REVIEW_SLA_HOURS).
DEFAULT_SLA_HOURS: tuple[tuple[str, float], ...] = (
    ("urgent", 1.0),
    ("action", 4.0),
    ("close", 24.0),
    ("far", 72.0),
)
DEFAULT_LEGAL_BASIS = "Regulation on preventing and combating child sexual abuse, Art 12(1)"


def _sla_hours(name: str, raw: str) -> tuple[tuple[str, float], ...]:
    """`urgent=1,action=4` over the defaults; an unknown priority name is a configuration error."""
    hours = dict(DEFAULT_SLA_HOURS)
    for part in filter(None, (p.strip() for p in raw.split(","))):
        priority, _, value = part.partition("=")
        priority = priority.strip()
        if priority not in hours:
            raise ConfigurationError(
                f"{name} names {priority!r}; priorities are {', '.join(hours)}"
            )
        try:
            hours[priority] = float(value)
        except ValueError:
            raise ConfigurationError(f"{name}: {part!r} is not NAME=HOURS") from None
    return tuple(hours.items())


def _risk_weights(name: str, raw: str) -> tuple[tuple[str, int], ...]:
    """NAME=POINTS pairs; whether each name is one the risk method knows is checked where the
    method is built (tutela.risk.method)."""
    weights = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        weight, _, value = part.partition("=")
        try:
            weights.append((weight.strip(), int(value)))
        except ValueError:
            raise ConfigurationError(f"{name}: {part!r} is not NAME=POINTS") from None
    return tuple(weights)


def _networks(name: str, raw: str) -> tuple[str, ...]:
    """Addresses or networks as normalised CIDR networks; a malformed one stops start-up."""
    networks = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        try:
            networks.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise ConfigurationError(f"{name}: {part!r} is not an address or network") from None
    return tuple(networks)


_COUNT = whole_number()
_SECONDS = number()
_POSITIVE_COUNT = whole_number(1)
_POSITIVE_SECONDS = number(above=True)


# The spool in the data directory (Settings.spool_dir): one name for every edge that spools.
SPOOL_DIRECTORY = "spool"


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = setting(
        "TUTELA_DATA_DIR",
        Path("tutela-data"),
        "Directory for the SQLite database, index snapshots and other local state.",
        parse=path,
        default_text="`./tutela-data`",
    )
    database_url: str | None = setting(
        "TUTELA_DATABASE_URL",
        None,
        "SQLAlchemy URL of a PostgreSQL database (`postgresql+psycopg://user@host/db`).",
        parse=text,
        default_text="unset: SQLite in the data directory",
    )
    webhook_allow_private: bool = setting(
        "TUTELA_WEBHOOK_ALLOW_PRIVATE",
        False,
        "Set to 1 to let platforms register, and the node deliver to, webhooks at loopback, "
        "private, link-local or reserved addresses (development, or receivers on the node's own "
        "network). By default /v1/webhooks refuses such an address, or a name resolving to one, "
        "and each delivery resolves the name again and connects only to the public address it "
        "checked (else the delivery fails for good, `refused_target`).",
        parse=flag,
    )
    scan_allow_private: bool = setting(
        "TUTELA_SCAN_ALLOW_PRIVATE",
        False,
        "Set to 1 to let `tutela scan` fetch http(s) URLs of its list files at loopback, private, "
        "link-local or reserved addresses (a file server on the node's own network). By default "
        "such a URL, or a name resolving to one, gets the error verdict `refused_target`.",
        parse=flag,
    )
    scan_fetch_timeout_s: float = setting(
        "TUTELA_SCAN_FETCH_TIMEOUT_S",
        60.0,
        "Seconds `tutela scan` may take to fetch one file from an http(s) URL or S3-compatible "
        "storage, however slowly its bytes come; a slower one gets the error verdict `timeout`. "
        "A download is also cut off at TUTELA_MAX_FILE_BYTES (`too_large`).",
        parse=_POSITIVE_SECONDS,
    )
    s3_endpoint_url: str | None = setting(
        "TUTELA_S3_ENDPOINT_URL",
        None,
        "Base URL of the S3-compatible storage that `tutela scan s3://bucket/prefix` lists and "
        "reads, path-style (e.g. http://minio.internal:9000).",
        parse=text,
        default_text="unset: AWS S3 in TUTELA_S3_REGION",
    )
    s3_region: str = setting(
        "TUTELA_S3_REGION",
        "us-east-1",
        "Region the S3 requests are signed for (Signature Version 4).",
        parse=text,
    )
    s3_access_key_id: str | None = setting(
        "TUTELA_S3_ACCESS_KEY_ID",
        None,
        "Access key id that signs the S3 requests of `tutela scan s3://…` (read-only suffices).",
        parse=text,
    )
    s3_secret_access_key: str | None = setting(
        "TUTELA_S3_SECRET_ACCESS_KEY",
        None,
        "Secret access key of TUTELA_S3_ACCESS_KEY_ID.",
        parse=text,
        secret=True,
    )
    log_level: str = setting(
        "TUTELA_LOG_LEVEL",
        "warning",
        "Lowest level of the node's log lines on stderr: debug, info, warning or error. Log lines "
        "carry ids, counts and codes, never content.",
        parse=choice(*LOG_LEVELS),
    )
    log_format: str = setting(
        "TUTELA_LOG_FORMAT",
        "text",
        "text or json: one JSON object per line (time, level, logger, message) for log collectors.",
        parse=choice(*LOG_FORMATS),
    )
    media: MediaLimits = nested(
        MediaLimits,
        max_bytes=Setting(
            "TUTELA_MAX_FILE_BYTES", "Largest media file accepted, in bytes.", _POSITIVE_COUNT
        ),
        max_pixels=Setting(
            "TUTELA_MAX_PIXELS",
            "Largest image accepted, width × height from the header.",
            _POSITIVE_COUNT,
        ),
        decode_timeout_s=Setting(
            "TUTELA_DECODE_TIMEOUT_S", "Seconds one decode may take in a worker.", _POSITIVE_SECONDS
        ),
        worker_memory_bytes=Setting(
            "TUTELA_WORKER_MEMORY_BYTES", "Address-space cap of a decoding worker.", _POSITIVE_COUNT
        ),
        max_video_bytes=Setting(
            "TUTELA_MAX_VIDEO_BYTES",
            "Largest video file accepted, in bytes; videos are streamed from disk, never read "
            "whole into memory.",
            _POSITIVE_COUNT,
        ),
        max_video_seconds=Setting(
            "TUTELA_MAX_VIDEO_SECONDS",
            "Longest video decoded, in seconds, by its header and by the frames it really holds.",
            _POSITIVE_SECONDS,
        ),
        video_timeout_s=Setting(
            "TUTELA_VIDEO_TIMEOUT_S",
            "Seconds one video may take to decode and hash in a worker.",
            _POSITIVE_SECONDS,
        ),
        vpdq_prune_distance=Setting(
            "TUTELA_VPDQ_PRUNE_DISTANCE",
            "vPDQ frame pruning: a video's sampled frame within this many bits of the last frame "
            "kept is left out of its hash (0 leaves out repeats of the same hash, fewer frames to "
            "store and look up); -1 keeps every sampled frame, as Meta's vPDQ tools do.",
            whole_number(-1),
        ),
    )
    inline_hashing_depth: int = setting(
        "TUTELA_INLINE_HASHING_DEPTH",
        16,
        "Uploads that may wait for the API's own hashing processes, per process, to be hashed and "
        "decided before they are answered. More at once (a burst) are stored and queued for the "
        "detection workers instead, so that no upload waits long for its answer; 0 queues every "
        "upload.",
        parse=_COUNT,
    )
    video_workers: int = setting(
        "TUTELA_VIDEO_WORKERS",
        1,
        "Videos hashed at once on this node, by all its detection workers together (each in an "
        "isolated process of its own, for up to `TUTELA_VIDEO_TIMEOUT_S`). A video upload is "
        "spooled in the data directory and queued: the workers that hash it must share that "
        "directory with the API that took it.",
        parse=_POSITIVE_COUNT,
    )
    job_lease_s: float = setting(
        "TUTELA_JOB_LEASE_S",
        120.0,
        "Seconds a detection worker holds a claimed job before another worker may reclaim it, "
        "e.g. after a crash. A worker whose loop shows no progress for the longer of this and "
        "twice `TUTELA_DECODE_TIMEOUT_S` (hung while its process lives) stops renewing its leases "
        "and exits with status 75; `tutela serve` replaces it, and `tutela worker` should run "
        "under a service manager that restarts it.",
        parse=_POSITIVE_SECONDS,
    )
    provider_name: str = setting(
        "TUTELA_PROVIDER_NAME",
        "",
        "The provider's legal name, as reports to the EU Centre carry it (Art 13(1)(a)).",
        parse=text,
    )
    provider_legal_representative: str = setting(
        "TUTELA_PROVIDER_LEGAL_REPRESENTATIVE",
        "",
        "The provider's legal representative in the EU (Art 13(1)(a)).",
        parse=text,
    )
    provider_contact: str = setting(
        "TUTELA_PROVIDER_CONTACT",
        "",
        "The provider's point of contact for authorities, e.g. an e-mail address (Art 13(1)(a)).",
        parse=text,
    )
    provider_country: str = setting(
        "TUTELA_PROVIDER_COUNTRY",
        "",
        "ISO 3166 code of the Member State of the provider's main establishment.",
        parse=upper_text,
    )
    provider_services: tuple[str, ...] = setting(
        "TUTELA_PROVIDER_SERVICES",
        (),
        "Comma-separated names of the provider's services that reports may name.",
        parse=names,
    )
    signing_key_file: Path | None = setting(
        "TUTELA_SIGNING_KEY_FILE",
        None,
        "Ed25519 private key (PEM) that signs reports (Art 13(1)(b)), written by "
        "`tutela keys generate`.",
        parse=path,
        default_text="DATA_DIR/keys/provider-ed25519.pem",
    )
    centre_url: str | None = setting(
        "TUTELA_CENTRE_URL",
        None,
        "Base URL of the EU Centre node that receives reports (e.g. https://centre.example).",
        parse=text,
    )
    secrets_key: str | None = setting(
        "TUTELA_SECRETS_KEY",
        None,
        "Base64 of a 32-byte AES-GCM key that encrypts stored exchange credentials (e.g. NCMEC "
        "reporting) at rest.",
        parse=text,
        secret=True,
    )
    report_ncmec: bool = setting(
        "TUTELA_REPORT_NCMEC",
        False,
        "Set to 1 to also file every confirmed report with NCMEC's CyberTipline (providers under "
        "18 U.S.C. 2258A), with the credentials stored by `tutela outbox ncmec credentials`; the "
        "content is uploaded from the evidence vault.",
        parse=flag,
    )
    outbox_max_attempts: int = setting(
        "TUTELA_OUTBOX_MAX_ATTEMPTS",
        12,
        "Tries before a message to another node is marked failed and an alert is raised.",
        parse=_POSITIVE_COUNT,
    )
    vault_key: str | None = setting(
        "TUTELA_VAULT_KEY",
        None,
        "Base64 of the 32-byte master key that wraps the evidence vault's data keys; make one "
        "with `tutela vault keygen`.",
        parse=text,
        secret=True,
    )
    vault_key_file: Path | None = setting(
        "TUTELA_VAULT_KEY_FILE",
        None,
        "File holding the vault master key (base64), instead of TUTELA_VAULT_KEY; "
        "`tutela vault keygen --out FILE` writes one.",
        parse=path,
    )
    vault_retention_days: int = setting(
        "TUTELA_VAULT_RETENTION_DAYS",
        365,
        "Days preserved evidence is kept before it is destroyed, counted from the report or "
        "removal (Art 22(2): at most 12 months).",
        parse=_COUNT,
    )
    session_idle_minutes: int = setting(
        "TUTELA_SESSION_IDLE_MINUTES",
        30,
        "Minutes without a request after which a console session ends.",
        parse=_POSITIVE_COUNT,
    )
    session_max_hours: int = setting(
        "TUTELA_SESSION_MAX_HOURS",
        12,
        "Hours after login at which a console session ends however busy.",
        parse=_POSITIVE_COUNT,
    )
    centre_signing_key_file: Path | None = setting(
        "TUTELA_CENTRE_SIGNING_KEY_FILE",
        None,
        "On a centre node: the Ed25519 private key (PEM) that signs its messages and indicator "
        "feed, written by `tutela centre keys generate`.",
        parse=path,
        default_text="DATA_DIR/keys/centre-ed25519.pem",
    )
    centre_public_key_file: Path | None = setting(
        "TUTELA_CENTRE_PUBLIC_KEY_FILE",
        None,
        "On a provider node: the EU Centre's public key (PEM); messages from the centre and its "
        "indicator feed must verify against it.",
        parse=path,
    )
    lea_hold_max_days: int = setting(
        "TUTELA_LEA_HOLD_MAX_DAYS",
        548,
        "Longest hold on user notification or removal an authority may ask for, in days "
        "(Art 48(6)-(7): up to 18 months).",
        parse=_COUNT,
    )
    outbox_interval_s: float = setting(
        "TUTELA_OUTBOX_INTERVAL_S",
        1.0,
        "Seconds the outbox sender waits when nothing is due.",
        parse=_SECONDS,
    )
    matcher_refresh_ms: int = setting(
        "TUTELA_MATCHER_REFRESH_MS",
        200,
        "Milliseconds between the API process's background reads of indicator changes: a bank "
        "change is matched by `/v1/match` and `/hma` lookups within this bound plus one read.",
        parse=_COUNT,
    )
    outbox_claim_s: float = setting(
        "TUTELA_OUTBOX_CLAIM_S",
        300.0,
        "Seconds a sender holds the messages it claimed; after a sender crash, another takes "
        "them over once this runs out.",
        parse=_POSITIVE_SECONDS,
    )
    outbox_backoff_s: float = setting(
        "TUTELA_OUTBOX_BACKOFF_S",
        5.0,
        "Seconds before the first retry of a message another node did not take; each further "
        "failure doubles it, with jitter, up to 6 hours.",
        parse=_SECONDS,
    )
    feed_interval_s: float = setting(
        "TUTELA_FEED_INTERVAL_S",
        60.0,
        "Seconds between polls of the centre's indicator feed by subscribed banks.",
        parse=_SECONDS,
    )
    http_header_timeout_s: float = setting(
        "TUTELA_HTTP_HEADER_TIMEOUT_S",
        10.0,
        "Seconds a client has to send a request's line and headers, from its connection or its "
        "first byte; a slower one is answered 408 and disconnected. Headers over 64 KiB are "
        "answered 431.",
        parse=_POSITIVE_SECONDS,
    )
    http_body_timeout_s: float = setting(
        "TUTELA_HTTP_BODY_TIMEOUT_S",
        120.0,
        "Seconds a client has to send a request's body, from the end of its headers; a slower "
        "one (a client trickling bytes) is answered 408 (`request_timeout`) and disconnected.",
        parse=_POSITIVE_SECONDS,
    )
    behind_tls: bool = setting(
        "TUTELA_BEHIND_TLS",
        False,
        "Set to 1 when the node is reached only over HTTPS through a proxy: every response then "
        "carries Strict-Transport-Security, as one to a request made over HTTPS always does.",
        parse=flag,
    )
    signed_message_max_age_s: float = setting(
        "TUTELA_SIGNED_MESSAGE_MAX_AGE_S",
        604800.0,
        "Oldest signing time a node accepts on a signed report or message, in seconds before its "
        "own clock (the default is a week: a provider signs a report once, when it files it, and "
        "its outbox may retry for hours). Older ones are refused (`stale_signature`), unless they "
        "repeat one already taken, which is answered as it was then.",
        parse=_SECONDS,
    )
    signed_message_max_skew_s: float = setting(
        "TUTELA_SIGNED_MESSAGE_MAX_SKEW_S",
        300.0,
        "How far ahead of a node's clock a signing time may lie, in seconds, and how far either "
        "way the time stamp of a signed request (status poll, feed page) may be.",
        parse=_SECONDS,
    )
    centre_max_report_bytes: int = setting(
        "TUTELA_CENTRE_MAX_REPORT_BYTES",
        64 * 1024 * 1024,
        "On a centre node: the largest signed report body it reads, content attached (base64) "
        "included (the default is 64 MiB). Larger ones are refused (413 `too_large`) while they "
        "stream in, and no byte is read before the `Tutela-Key-Id` names a registered provider.",
        parse=_POSITIVE_COUNT,
    )
    alert_webhook_url: str | None = setting(
        "TUTELA_ALERT_WEBHOOK_URL",
        None,
        "URL the operator's alerts (floods, failed messages, SLA breaches, overdue deadlines) are "
        "POSTed to, signed like platform webhooks ([docs/webhooks.md](docs/webhooks.md)); unset "
        "sends none (they still show in the console, `tutela status` and /metrics).",
        parse=text,
    )
    alert_webhook_secret: str | None = setting(
        "TUTELA_ALERT_WEBHOOK_SECRET",
        None,
        "Secret (16 characters or more) that signs the alert webhook; required with "
        "TUTELA_ALERT_WEBHOOK_URL.",
        parse=text,
        secret=True,
    )
    dsa_tdb_url: str | None = setting(
        "TUTELA_DSA_TDB_URL",
        None,
        "Base URL of the EU DSA Transparency Database, e.g. "
        "https://transparency.dsa.ec.europa.eu; set, every statement of reasons goes there too "
        "(without personal data, DSA Art 24(5)) through the `dsa-tdb` transport; unset, none is "
        "sent.",
        parse=text,
    )
    dsa_tdb_token: str | None = setting(
        "TUTELA_DSA_TDB_TOKEN",
        None,
        "The Transparency Database API token (sent as a Bearer token); required with "
        "TUTELA_DSA_TDB_URL.",
        parse=text,
        secret=True,
    )
    trusted_proxies: tuple[str, ...] = setting(
        "TUTELA_TRUSTED_PROXIES",
        (),
        "Comma-separated addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For "
        "header names the client, e.g. 127.0.0.1,10.0.0.0/8; unset trusts no header and the "
        "client is the connecting address (login limits count per client address).",
        parse=_networks,
    )
    console_insecure_cookies: bool = setting(
        "TUTELA_CONSOLE_INSECURE_COOKIES",
        False,
        "Development only: set to 1 to send the console's session cookie without the Secure "
        "flag, for plain-HTTP testing on one machine.",
        parse=flag,
    )
    review_sla_hours: tuple[tuple[str, float], ...] = setting(
        "TUTELA_REVIEW_SLA_HOURS",
        DEFAULT_SLA_HOURS,
        "Hours a case may wait for its first decision, per queue priority: comma-separated "
        "NAME=HOURS for urgent, action, close and far.",
        parse=_sla_hours,
    )
    review_four_eyes: bool = setting(
        "TUTELA_REVIEW_FOUR_EYES",
        False,
        "Set to 1 so that two different reviewers must confirm a case before anything "
        "(evidence, report, takedown, notice) leaves the node.",
        parse=flag,
    )
    report_legal_basis: str = setting(
        "TUTELA_REPORT_LEGAL_BASIS",
        DEFAULT_LEGAL_BASIS,
        "The legal basis that reports name (Art 13(1)(k)).",
        parse=text,
    )
    notice_silence_months: int = setting(
        "TUTELA_NOTICE_SILENCE_MONTHS",
        3,
        "Months a user notice about a report is held back before release, unless the Centre "
        "says otherwise (Art 12(2)).",
        parse=_COUNT,
    )
    takedown_resend_hours: float = setting(
        "TUTELA_TAKEDOWN_RESEND_HOURS",
        1.0,
        "Hours after which an unconfirmed takedown request is sent to the platform again, "
        "doubling each time up to a day.",
        parse=_POSITIVE_SECONDS,
    )
    takedown_hold_wait_minutes: float = setting(
        "TUTELA_TAKEDOWN_HOLD_WAIT_MINUTES",
        60.0,
        "Minutes a takedown of a case reported to the EU Centre waits before it is sent, so that "
        "an authority's hold on removal (Art 48(6)-(7)) can still arrive through the Centre; 0 "
        "sends at once.",
        parse=_SECONDS,
    )
    complaint_window_months: int = setting(
        "TUTELA_COMPLAINT_WINDOW_MONTHS",
        6,
        "Months after a decision within which a user's complaint is accepted (DSA Art 20(1)).",
        parse=_COUNT,
    )
    removal_deadline_hours: float = setting(
        "TUTELA_REMOVAL_DEADLINE_HOURS",
        24.0,
        "Hours a provider has to remove or disable the items of a removal order, from its "
        "receipt (Art 14(1)); past it the order is overdue.",
        parse=_SECONDS,
    )
    authority_name: str = setting(
        "TUTELA_AUTHORITY_NAME",
        "",
        "On an authority node: the issuing authority's name, as its orders carry it (Annex IV).",
        parse=text,
    )
    authority_contact: str = setting(
        "TUTELA_AUTHORITY_CONTACT",
        "",
        "On an authority node: the contact point its orders name (Annex IV), e.g. an e-mail "
        "address.",
        parse=text,
    )
    authority_country: str = setting(
        "TUTELA_AUTHORITY_COUNTRY",
        "",
        "On an authority node: ISO 3166 code of its Member State.",
        parse=upper_text,
    )
    authority_url: str | None = setting(
        "TUTELA_AUTHORITY_URL",
        None,
        "On an authority node: its base URL as providers reach it; orders carry it, and providers "
        "send their signed execution reports to URL/v1/order-reports.",
        parse=text,
    )
    authority_signing_key_file: Path | None = setting(
        "TUTELA_AUTHORITY_SIGNING_KEY_FILE",
        None,
        "On an authority node: the Ed25519 private key (PEM) that signs its orders, written by "
        "`tutela authority keys generate`.",
        parse=path,
        default_text="DATA_DIR/keys/authority-ed25519.pem",
    )
    coordinating_authority_url: str | None = setting(
        "TUTELA_COORDINATING_AUTHORITY_URL",
        None,
        "On a provider node: base URL of the authority node of its Coordinating Authority of "
        "establishment; `tutela risk send` and `tutela transparency send` deliver the signed "
        "Art 5 report and yearly figures to URL/v1/compliance-documents.",
        parse=text,
    )
    risk_reassess_months: int = setting(
        "TUTELA_RISK_REASSESS_MONTHS",
        36,
        "Months after a risk assessment's sign-off at which the next one is due (Art 3(4)); a "
        "significant change recorded by the compliance officer makes it due at once.",
        parse=_POSITIVE_COUNT,
    )
    risk_figure_months: int = setting(
        "TUTELA_RISK_FIGURE_MONTHS",
        12,
        "Calendar months of the node's own figures (matches, confirmed reports, complaints per "
        "service part) a risk assessment shows and scores, the current month included.",
        parse=_POSITIVE_COUNT,
    )
    risk_weights: tuple[tuple[str, int], ...] = setting(
        "TUTELA_RISK_WEIGHTS",
        (),
        "Points of the risk method over its defaults, comma-separated NAME=POINTS, e.g. "
        "`live_streaming=3,children_use.likely=2` (names in the risk register section above).",
        parse=_risk_weights,
    )
    risk_high_score: int = setting(
        "TUTELA_RISK_HIGH_SCORE",
        10,
        "Score from which a service part's risk level is high.",
        parse=_COUNT,
    )
    risk_medium_score: int = setting(
        "TUTELA_RISK_MEDIUM_SCORE",
        5,
        "Score from which a service part's risk level is medium; below it, low.",
        parse=_COUNT,
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Every declared setting from `env` (the process environment by default); unset or
        blank ones keep their defaults. A bad value raises ConfigurationError naming it."""
        return read(cls, os.environ if env is None else env)

    @property
    def sqlalchemy_url(self) -> str:
        """The database to use: PostgreSQL when configured, else SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tutela.db').resolve()}"

    @property
    def spool_dir(self) -> Path:
        """Where uploads and video stills are spooled while they are read, in the data
        directory (queued videos wait in its `videos`, tutela.detection.video_queue)."""
        return self.data_dir / SPOOL_DIRECTORY
