"""S3-compatible object storage for backlog scans (`tutela scan s3://bucket/prefix`): listing a
prefix (ListObjectsV2, page by page) and reading an object (GET, streamed), each request signed
with AWS Signature Version 4 over the project's HTTP client. Path-style addressing
(`ENDPOINT/bucket/key`), which AWS S3, MinIO, Ceph RGW, Garage and SeaweedFS all answer.

No SDK: the two calls a scan needs, and the signature (`sign`, checked against AWS's published
example), are small enough to hold here and keep the dependency list short.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote, unquote, urlsplit
from xml.etree import ElementTree

import httpx

from tutela.clock import Clock, SystemClock
from tutela.errors import ConfigurationError, InvalidInput

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
S3_NAMESPACE = "{http://s3.amazonaws.com/doc/2006-03-01/}"
# Keys per ListObjectsV2 page: S3's own maximum.
PAGE_KEYS = 1000


@dataclass(frozen=True, slots=True)
class S3Location:
    """`s3://bucket/key-or-prefix`, parsed."""

    bucket: str
    key: str

    @classmethod
    def parse(cls, url: str) -> S3Location:
        parts = urlsplit(url)
        if parts.scheme.lower() != "s3" or not parts.netloc:
            raise InvalidInput(f"not an s3://bucket/prefix URL: {url}")
        return cls(parts.netloc, unquote(parts.path.lstrip("/")))

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True, slots=True)
class S3Object:
    """One listed object: its key, size and ETag (which changes with its content)."""

    location: S3Location
    size: int
    etag: str


@dataclass(frozen=True, slots=True)
class S3Config:
    """Where the objects are and the key that may read them (TUTELA_S3_*). Small and hashable:
    it travels to Ray tasks by value."""

    endpoint_url: str | None
    region: str
    access_key_id: str | None
    secret_access_key: str | None = field(repr=False)

    @property
    def endpoint(self) -> str:
        return (self.endpoint_url or f"https://s3.{self.region}.amazonaws.com").rstrip("/")


def _uri_encode(text: str, *, keep_slash: bool) -> str:
    # SigV4's encoding: every byte but A-Z a-z 0-9 - . _ ~ percent-encoded (and '/' in paths).
    return quote(text, safe="-._~/" if keep_slash else "-._~")


def canonical_query(params: Mapping[str, str]) -> str:
    encoded = sorted(
        (_uri_encode(k, keep_slash=False), _uri_encode(v, keep_slash=False))
        for k, v in params.items()
    )
    return "&".join(f"{k}={v}" for k, v in encoded)


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def sign(
    *,
    method: str,
    host: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    config: S3Config,
    now: datetime,
    service: str = "s3",
    payload_sha256: str = EMPTY_SHA256,
) -> dict[str, str]:
    """The headers that sign a request (x-amz-date, x-amz-content-sha256, Authorization), for
    `path` as sent (already percent-encoded) and `headers` besides them that are to be signed."""
    if not config.access_key_id or not config.secret_access_key:
        raise ConfigurationError(
            "s3:// sources need TUTELA_S3_ACCESS_KEY_ID and TUTELA_S3_SECRET_ACCESS_KEY"
        )
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    date = stamp[:8]
    signed = {
        "host": host,
        "x-amz-content-sha256": payload_sha256,
        "x-amz-date": stamp,
        **{name.lower(): value.strip() for name, value in headers.items()},
    }
    names = sorted(signed)
    canonical = "\n".join(
        [
            method,
            path or "/",
            canonical_query(query),
            "".join(f"{name}:{signed[name]}\n" for name in names),
            ";".join(names),
            payload_sha256,
        ]
    )
    scope = f"{date}/{config.region}/{service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = signing_key(config.secret_access_key, date, config.region, service)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "x-amz-date": stamp,
        "x-amz-content-sha256": payload_sha256,
        "Authorization": (
            f"{ALGORITHM} Credential={config.access_key_id}/{scope},"
            f"SignedHeaders={';'.join(names)},Signature={signature}"
        ),
    }


class S3Client:
    """ListObjectsV2 and GET Object against `config`'s endpoint through `client` (which owns
    timeouts; its redirects stay off). `clock` dates the signatures."""

    def __init__(self, config: S3Config, client: httpx.Client, clock: Clock | None = None) -> None:
        self.config = config
        self._client = client
        self._endpoint = urlsplit(config.endpoint)
        # The Host header as httpx sends it: without a scheme's default port.
        port = self._endpoint.port
        default = {"http": 80, "https": 443}.get(self._endpoint.scheme)
        hostname = self._endpoint.hostname or ""
        self._host = f"[{hostname}]" if ":" in hostname else hostname
        if port is not None and port != default:
            self._host += f":{port}"
        self._clock = clock or SystemClock()

    def _request(self, location: S3Location, query: Mapping[str, str]) -> httpx.Request:
        base = self._endpoint.path.rstrip("/")
        path = _uri_encode(f"{base}/{location.bucket}/{location.key}", keep_slash=True)
        if not location.key:
            path = _uri_encode(f"{base}/{location.bucket}", keep_slash=True)
        headers = sign(
            method="GET",
            host=self._host,
            path=path,
            query=query,
            headers={},
            config=self.config,
            now=self._clock.now(),
        )
        url = f"{self._endpoint.scheme}://{self._host}{path}"
        if query:
            url += "?" + canonical_query(query)
        # The bytes as stored (a compressed answer is not inflated by the client).
        return self._client.build_request(
            "GET", url, headers={**headers, "Accept-Encoding": "identity"}
        )

    def list_objects(self, prefix: S3Location) -> Iterator[list[S3Object]]:
        """Every object under `prefix`, a page (up to PAGE_KEYS) at a time, in key order;
        ConfigurationError when the store refuses the listing (wrong key, no such bucket)."""
        token: str | None = None
        while True:
            query = {
                "list-type": "2",
                "prefix": prefix.key,
                "max-keys": str(PAGE_KEYS),
                "encoding-type": "url",
            }
            if token:
                query["continuation-token"] = token
            bucket = S3Location(prefix.bucket, "")
            try:
                response = self._client.send(self._request(bucket, query))
            except httpx.HTTPError as error:
                raise ConfigurationError(
                    f"cannot list {prefix.url}: {type(error).__name__}"
                ) from None
            if response.status_code != 200:
                raise ConfigurationError(
                    f"cannot list {prefix.url}: the store answered {response.status_code}"
                    f"{_error_code(response.content)}"
                )
            page, token = _parse_listing(prefix.bucket, response.content)
            if page:
                yield page
            if not token:
                return

    def get_object(self, location: S3Location) -> httpx.Request:
        """The signed GET of an object, to be sent streamed by the caller (who limits it)."""
        return self._request(location, {})


def _parse_listing(bucket: str, body: bytes) -> tuple[list[S3Object], str | None]:
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise ConfigurationError("the object store's listing is not XML") from None
    url_encoded = (root.findtext(f"{S3_NAMESPACE}EncodingType") or "").lower() == "url"
    objects = []
    for entry in root.iter(f"{S3_NAMESPACE}Contents"):
        key = entry.findtext(f"{S3_NAMESPACE}Key") or ""
        if url_encoded:
            key = unquote(key)
        if key.endswith("/"):  # a "folder" marker, not a file
            continue
        size = int(entry.findtext(f"{S3_NAMESPACE}Size") or 0)
        etag = (entry.findtext(f"{S3_NAMESPACE}ETag") or "").strip('"')
        objects.append(S3Object(S3Location(bucket, key), size, etag))
    truncated = (root.findtext(f"{S3_NAMESPACE}IsTruncated") or "").lower() == "true"
    token = root.findtext(f"{S3_NAMESPACE}NextContinuationToken") if truncated else None
    return objects, token


def _error_code(body: bytes) -> str:
    """`(NoSuchBucket)`, S3's error code from an error answer, when it has one."""
    try:
        code = ElementTree.fromstring(body).findtext("Code")
    except ElementTree.ParseError:
        return ""
    return f" ({code})" if code else ""
