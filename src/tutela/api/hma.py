"""A drop-in for Meta's hasher-matcher-actioner (HMA 1.x, OpenMediaMatch) under `/hma`: its
paths, query parameters and JSON shapes for hashing (`/h`), matching (`/m`) and reading banks,
signal types, content types and exchanges (`/c`), so an HMA client (or ROOST Coop) switches by
changing its base URL and sending `Authorization: Bearer <key>` (HMA itself has no auth).

What Tutela deliberately does not do answers 400 `not_supported` saying what to do instead:
fetching content from a URL (upload the file), and changing banks, contents, exchanges or signal
types through this API (they are curated, role-checked and audited in the console and CLI).
An HMA bank is a Tutela bank (`matching_enabled_ratio` 1.0 when enabled, else 0.0); an HMA
"bank content" is one Tutela indicator, its id the `bank_content_id` of a match.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from tutela.api.deps import HashKey, MatchKey, Services, ServicesDep, scope_doc
from tutela.api.multipart import boundary_of, parse_form
from tutela.api.uploads import MAX_PARTS, is_multipart
from tutela.errors import InvalidInput, MediaTooLarge, NotFound, NotSupported, TutelaError
from tutela.indicators.banks import BankView, get_bank, list_banks
from tutela.indicators.feed_subscription import subscribed_banks
from tutela.indicators.ledger import FOREVER, get_indicator
from tutela.indicators.matcher import Matcher, MatchResult
from tutela.signals.hashing import MediaSignals
from tutela.signals.pdq import PdqHash, PdqSignal
from tutela.signals.registry import get_signal_type, signal_types

PREFIX = "/hma"
router = APIRouter(prefix=PREFIX, tags=["hma"])

# HMA names the multipart file field after the content type; Tutela hashes both the same way.
CONTENT_TYPES = ("photo", "video")
# HMA's PDQ index answers within this many bits (PdqSignal.PDQ_CONFIDENT_MATCH_THRESHOLD).
HMA_PDQ_THRESHOLD = 31
# The name `/c/exchanges/apis` gives Tutela's one exchange: the EU Centre's signed feed.
EXCHANGE_API = "eu_centre_feed"

NO_URLS = (
    "Tutela does not fetch content from URLs (it would make the node a fetcher of arbitrary "
    "addresses): POST the file as multipart/form-data, in a field named 'photo' or 'video', to "
    f"{PREFIX}/h/hash or {PREFIX}/m/lookup"
)
CURATED = (
    "banks, their contents, exchanges and signal types are changed in Tutela's console or with "
    "`tutela bank …`, where each change is role-checked and audited; this API only reads them"
)

Banks = Annotated[
    str | None, Query(description="Comma-separated bank names to restrict the search to.")
]
BankName = Annotated[str, Path(max_length=128)]
# Indicator ids are 64-bit: a larger number is refused (422) before it reaches the database.
ContentId = Annotated[int, Path(ge=1, le=2**63 - 1)]


# -- hashing -------------------------------------------------------------------------------------


@router.get("/h/hash", openapi_extra=scope_doc("hash"))
async def hash_url(_key: HashKey, url: str | None = None) -> dict[str, str]:
    """HMA hashes the content at `url`; Tutela never fetches: upload the file instead."""
    raise NotSupported(NO_URLS)


@router.post("/h/hash", openapi_extra=scope_doc("hash"))
async def hash_upload(
    request: Request,
    _key: HashKey,
    services: ServicesDep,
    types: Annotated[str | None, Query(description="Comma-separated signal types.")] = None,
) -> dict[str, str]:
    """The signals of one uploaded file (field `photo` or `video`), `{signal_type: hash}`."""
    return await _hash(request, services, types)


# -- matching ------------------------------------------------------------------------------------


@router.get("/m/raw_lookup", openapi_extra=scope_doc("match"))
async def raw_lookup(
    _key: MatchKey,
    services: ServicesDep,
    signal: str,
    signal_type: str,
    banks: Banks = None,
    include_distance: bool = False,
) -> dict[str, list[Any]]:
    """Matched bank content ids, `{"matches": [id…]}`, or with `include_distance`
    `{"matches": [{"bank_content_id", "distance"}…]}`."""
    by_bank = await run_in_threadpool(
        lookup, services.matcher, signal_type, signal, _bank_set(banks)
    )
    found = [match for matches in by_bank.values() for match in matches]
    if include_distance:
        return {"matches": found}
    return {"matches": [match["bank_content_id"] for match in found]}


@router.get("/m/lookup", openapi_extra=scope_doc("match"))
async def lookup_get(
    _key: MatchKey,
    services: ServicesDep,
    signal: str | None = None,
    signal_type: str | None = None,
    url: str | None = None,
    banks: Banks = None,
    seed: str | None = None,
    bypass_coinflip: bool = False,
) -> dict[str, list[dict[str, Any]]]:
    """Matches of one hash by bank: `{bank: [{"bank_content_id", "distance"}…]}`. `seed` and
    `bypass_coinflip` are accepted and change nothing: a Tutela bank matches fully or not."""
    if url:
        raise NotSupported(NO_URLS)
    if not signal or not signal_type:
        raise InvalidInput("Either url or both signal and signal_type are required")
    return await run_in_threadpool(lookup, services.matcher, signal_type, signal, _bank_set(banks))


@router.post("/m/lookup", openapi_extra=scope_doc("match"))
async def lookup_upload(
    request: Request,
    _key: MatchKey,
    services: ServicesDep,
    banks: Banks = None,
    seed: str | None = None,
    bypass_coinflip: bool = False,
    types: Annotated[str | None, Query(description="Comma-separated signal types.")] = None,
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Hash an uploaded file (field `photo` or `video`) and look each of its signals up:
    `{signal_type: {bank: [{"bank_content_id", "distance"}…]}}`. The PDQ of a plain image
    follows PDQ's quality rule as everywhere in Tutela (Matcher.match_pdq): under quality 50 it
    matches only very near, under 20 not at all."""
    hashes, quality = await _hash_with_quality(request, services, types)
    wanted = _bank_set(banks)
    answer: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for signal_type, value in hashes.items():
        if signal_type == PdqSignal.name:
            query = PdqHash(value, quality)
            found = await run_in_threadpool(services.matcher.match_pdq, query)
            answer[signal_type] = by_bank(found or [], wanted)
            continue
        answer[signal_type] = await run_in_threadpool(
            lookup, services.matcher, signal_type, value, wanted
        )
    return answer


@router.post("/m/compare", openapi_extra=scope_doc("match"))
async def compare(request: Request, _key: MatchKey) -> dict[str, list[Any]]:
    """Compare pairs of hashes: `{"pdq": [a, b]}` gives `{"pdq": [matched, {"distance": d}]}`
    (PDQ matches within 31 bits, as HMA's index; exact hashes only when equal)."""
    try:
        body = await request.json()
    except ValueError:
        raise InvalidInput("the body must be JSON") from None
    if not isinstance(body, dict):
        raise InvalidInput("Request input was not a dict")
    return {name: compare_pair(name, pair) for name, pair in body.items()}


@router.get("/m/index/status", openapi_extra=scope_doc("match"))
async def index_status(_key: MatchKey) -> None:
    """HMA's index build checkpoints have no counterpart: Tutela's matcher follows each change."""
    raise NotSupported(
        "Tutela builds no index in the background: its matchers follow every bank change "
        "within TUTELA_MATCHER_REFRESH_MS; see /readyz and the tutela_matcher_* figures on "
        "/metrics"
    )


# -- curation (read-only) ------------------------------------------------------------------------


@router.get("/c/banks", openapi_extra=scope_doc("match"))
async def banks_index(_key: MatchKey, services: ServicesDep) -> list[dict[str, Any]]:
    """Every bank, `[{"name", "matching_enabled_ratio"}…]`."""
    return [_bank(bank) for bank in await run_in_threadpool(list_banks, services.database)]


@router.get("/c/bank/{bank_name}", openapi_extra=scope_doc("match"))
async def bank_show(bank_name: BankName, _key: MatchKey, services: ServicesDep) -> dict[str, Any]:
    return _bank(await run_in_threadpool(get_bank, services.database, bank_name))


@router.get("/c/bank/{bank_name}/content/{content_id}", openapi_extra=scope_doc("match"))
async def bank_content_show(
    bank_name: BankName,
    content_id: ContentId,
    _key: MatchKey,
    services: ServicesDep,
    include_signals: bool = False,
) -> dict[str, Any]:
    """One banked hash: `{"id", "disable_until_ts", "original_media_uri", "bank", "metadata",
    "note"}`, and `"signals": {signal_type: hash}` with `include_signals=true`."""
    bank = await run_in_threadpool(get_bank, services.database, bank_name)
    indicator = await run_in_threadpool(get_indicator, services.database, content_id)
    if indicator.bank != bank.name:
        raise NotFound(f"content '{content_id}' not found")
    answer: dict[str, Any] = {
        "id": indicator.id,
        "disable_until_ts": _disabled_until_ts(indicator.disabled_until),
        "original_media_uri": None,
        "bank": _bank(bank),
        "metadata": None,
        "note": None,
    }
    if include_signals:
        answer["signals"] = {indicator.signal_type: indicator.value}
    return answer


@router.get("/c/signal_type", openapi_extra=scope_doc("match"))
async def signal_type_index(_key: MatchKey) -> list[dict[str, Any]]:
    """The signal types Tutela matches, `[{"name", "enabled_ratio"}…]`, all enabled."""
    return [{"name": name, "enabled_ratio": 1.0} for name in sorted(signal_types())]


@router.get("/c/content_type", openapi_extra=scope_doc("match"))
async def content_type_index(_key: MatchKey) -> list[dict[str, Any]]:
    return [{"name": name, "enabled": True} for name in CONTENT_TYPES]


@router.get("/c/exchanges", openapi_extra=scope_doc("match"))
async def exchanges_index(_key: MatchKey, services: ServicesDep) -> list[str]:
    """The banks that follow the EU Centre's feed (Tutela's one exchange), by name."""
    return await run_in_threadpool(subscribed_banks, services.database)


@router.get("/c/exchanges/apis", openapi_extra=scope_doc("match"))
async def exchange_apis(_key: MatchKey) -> list[str]:
    return [EXCHANGE_API]


@router.get("/c/exchange/{exchange_name}", openapi_extra=scope_doc("match"))
async def exchange_show(
    exchange_name: BankName, _key: MatchKey, services: ServicesDep
) -> dict[str, Any]:
    """A bank that follows the centre's feed: `{"name", "api", "enabled"}`."""
    if exchange_name not in await run_in_threadpool(subscribed_banks, services.database):
        raise NotFound(f"Exchange '{exchange_name}' not found")
    bank = await run_in_threadpool(get_bank, services.database, exchange_name)
    return {"name": bank.name, "api": EXCHANGE_API, "enabled": bank.enabled}


_CURATION_WRITES = (
    ("POST", "/c/banks"),
    ("PUT", "/c/bank/{bank_name}"),
    ("DELETE", "/c/bank/{bank_name}"),
    ("POST", "/c/bank/{bank_name}/content"),
    ("POST", "/c/bank/{bank_name}/signal"),
    ("PUT", "/c/bank/{bank_name}/content/{content_id}"),
    ("DELETE", "/c/bank/{bank_name}/content/{content_id}"),
    ("POST", "/c/exchanges"),
    ("PUT", "/c/exchange/{exchange_name}"),
    ("DELETE", "/c/exchange/{exchange_name}"),
    ("GET", "/c/exchange/{exchange_name}/status"),
    ("GET", "/c/exchanges/api/{api_name}"),
    ("POST", "/c/exchanges/api/{api_name}"),
    ("GET", "/c/exchanges/api/{api_name}/schema"),
    ("PUT", "/c/signal_type/{signal_type_name}"),
    ("GET", "/c/signal_type/index"),
)


async def _curated(_key: MatchKey) -> None:
    raise NotSupported(CURATED)


for _method, _path in _CURATION_WRITES:
    router.add_api_route(
        _path,
        _curated,
        methods=[_method],
        openapi_extra=scope_doc("match"),
        summary=f"Not supported: {CURATED}",
        operation_id=f"hma_not_supported_{_method.lower()}_{_path.strip('/').replace('/', '_')}".replace(
            "{", ""
        ).replace("}", ""),
    )


# -- the work ------------------------------------------------------------------------------------


def lookup(
    matcher: Matcher, signal_type: str, signal: str, banks: set[str] | None
) -> dict[str, list[dict[str, Any]]]:
    """HMA's lookup of one hash: matches within each bank's threshold, grouped by bank name
    (`banks` restricts them), distance as text as HMA gives it."""
    (found,) = matcher.match_hashes(_signal_type(signal_type), [signal])
    return by_bank(found, banks)


def by_bank(found: list[MatchResult], banks: set[str] | None) -> dict[str, list[dict[str, Any]]]:
    """Matches grouped by bank name as HMA gives them (`banks` restricts them)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for match in found:
        if banks is None or match.bank in banks:
            entry = {"bank_content_id": match.indicator_id, "distance": str(match.distance)}
            grouped.setdefault(match.bank, []).append(entry)
    return grouped


def compare_pair(signal_type: str, pair: Any) -> list[Any]:
    if not isinstance(pair, list):
        raise InvalidInput(f"Comparison hashes for {signal_type} was not a list")
    if len(pair) != 2 or not all(isinstance(value, str) for value in pair):
        raise InvalidInput("Comparison hash list length must be exactly 2")
    kind = get_signal_type(_signal_type(signal_type))
    left, right = (kind.validate(value) for value in pair)
    distance = kind.distance(left, right)
    if kind.perceptual:
        return [distance <= HMA_PDQ_THRESHOLD, {"distance": distance}]
    return [distance == 0, {"distance": distance}]


def _signal_type(name: str) -> str:
    """A known signal type (HMA answers an unknown one with an error too)."""
    get_signal_type(name)
    return name


async def _hash(request: Request, services: Services, types: str | None) -> dict[str, str]:
    hashes, _ = await _hash_with_quality(request, services, types)
    return hashes


async def _hash_with_quality(
    request: Request, services: Services, types: str | None
) -> tuple[dict[str, str], int]:
    """The file's hashes by signal type (restricted to `types`) and its PDQ quality."""
    data = await _uploaded_file(request, services.settings.media.max_bytes)
    result = await services.hashing.hash(data)
    if isinstance(result, TutelaError):
        raise result
    if result.error is not None:
        raise result.error  # not media it can read: HMA cannot hash it either
    hashes, quality = _hashes_of(result)
    if types is None:
        return hashes, quality
    wanted = [name.strip() for name in types.split(",") if name.strip()]
    unknown = sorted(set(wanted) - set(hashes))
    if unknown:
        raise InvalidInput(f"signal type '{unknown[0]}' doesn't exist or is disabled")
    if not wanted:
        raise InvalidInput("empty signal type selection")
    return {name: hashes[name] for name in wanted}, quality


def _hashes_of(result: MediaSignals) -> tuple[dict[str, str], int]:
    hashes: dict[str, str] = {}
    quality = 0
    if result.pdq is not None:
        hashes[PdqSignal.name] = result.pdq.hash
        quality = result.pdq.quality
    hashes.update(md5=result.md5, sha1=result.sha1, sha256=result.sha256)
    return hashes, quality


async def _uploaded_file(request: Request, max_bytes: int) -> bytes:
    """The one file of an HMA upload: a multipart field named for its content type."""
    if not is_multipart(request):
        raise InvalidInput("Missing multipart/form-data file upload")
    boundary = boundary_of(request.headers.get("content-type", ""))
    parts = parse_form(await request.body(), boundary, max_parts=MAX_PARTS)
    files = [part for part in parts if part.filename is not None or part.name in CONTENT_TYPES]
    if not files:
        raise InvalidInput("Missing multipart/form-data file upload")
    if len(files) > 1:
        raise InvalidInput("Only one file allowed per request")
    (upload,) = files
    if upload.name not in CONTENT_TYPES:
        raise InvalidInput(
            f"no such content_type: '{upload.name}' (name the file field "
            f"{' or '.join(repr(name) for name in CONTENT_TYPES)})"
        )
    if len(upload.data) > max_bytes:
        raise MediaTooLarge(f"the file is over the limit of {max_bytes} bytes")
    return upload.data


def _bank(bank: BankView) -> dict[str, Any]:
    return {"name": bank.name, "matching_enabled_ratio": 1.0 if bank.enabled else 0.0}


def _bank_set(banks: str | None) -> set[str] | None:
    return set(banks.split(",")) if banks else None


def _disabled_until_ts(until: datetime | None) -> int:
    """HMA's `disable_until_ts`: 0 when enabled (its ENABLED), else the Unix time it ends."""
    if until is None:
        return 0
    return int(min(until, FOREVER).timestamp())
