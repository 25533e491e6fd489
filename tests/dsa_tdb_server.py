"""A local stand-in for the EU DSA Transparency Database API (v1), run as a real HTTP server on
127.0.0.1, that checks every statement as the database's documentation and its published
validation rules state (transparency.dsa.ec.europa.eu/page/api-documentation;
app/Http/Requests/StatementStoreRequest.php in github.com/digital-services-act/transparency-database):
required fields, enumerations, YYYY-MM-DD dates and their bounds, text limits, the puid's form,
the Bearer token, 1-100 statements per multiple call, and a duplicate puid answered 422.

Stricter than the real one in one way, on purpose: an attribute the documentation does not name
is refused (the real API silently drops it, which would hide a misspelt field).

Not a test module.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "1|tutela-test-token-of-the-platform"
SINGLE = "/api/v1/statement"
MULTIPLE = "/api/v1/statements"


def _names(prefix: str, *parts: str) -> frozenset[str]:
    """An enumeration written compactly: its names, space-separated, each with `prefix`."""
    return frozenset(prefix + name for name in "".join(parts).split())


DECISION_VISIBILITIES = {
    "DECISION_VISIBILITY_CONTENT_REMOVED",
    "DECISION_VISIBILITY_CONTENT_DISABLED",
    "DECISION_VISIBILITY_CONTENT_DEMOTED",
    "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_LABELLED",
    "DECISION_VISIBILITY_OTHER",
}
DECISION_MONETARIES = {
    "DECISION_MONETARY_SUSPENSION",
    "DECISION_MONETARY_TERMINATION",
    "DECISION_MONETARY_OTHER",
}
DECISION_PROVISIONS = {
    "DECISION_PROVISION_PARTIAL_SUSPENSION",
    "DECISION_PROVISION_TOTAL_SUSPENSION",
    "DECISION_PROVISION_PARTIAL_TERMINATION",
    "DECISION_PROVISION_TOTAL_TERMINATION",
}
DECISION_ACCOUNTS = {"DECISION_ACCOUNT_SUSPENDED", "DECISION_ACCOUNT_TERMINATED"}
ACCOUNT_TYPES = {"ACCOUNT_TYPE_BUSINESS", "ACCOUNT_TYPE_PRIVATE"}
DECISION_GROUNDS = {"DECISION_GROUND_ILLEGAL_CONTENT", "DECISION_GROUND_INCOMPATIBLE_CONTENT"}
CONTENT_TYPES = {
    "CONTENT_TYPE_APP",
    "CONTENT_TYPE_AUDIO",
    "CONTENT_TYPE_IMAGE",
    "CONTENT_TYPE_PRODUCT",
    "CONTENT_TYPE_SYNTHETIC_MEDIA",
    "CONTENT_TYPE_TEXT",
    "CONTENT_TYPE_VIDEO",
    "CONTENT_TYPE_OTHER",
}
CATEGORIES = _names(
    "STATEMENT_CATEGORY_",
    "ANIMAL_WELFARE CONSUMER_INFORMATION CYBER_VIOLENCE CYBER_VIOLENCE_AGAINST_WOMEN "
    "DATA_PROTECTION_AND_PRIVACY_VIOLATIONS ILLEGAL_OR_HARMFUL_SPEECH "
    "INTELLECTUAL_PROPERTY_INFRINGEMENTS NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS "
    "NOT_SPECIFIED_NOTICE OTHER_VIOLATION_TC PROTECTION_OF_MINORS RISK_FOR_PUBLIC_SECURITY "
    "SCAMS_AND_FRAUD SELF_HARM UNSAFE_AND_PROHIBITED_PRODUCTS VIOLENCE",
)
KEYWORDS = _names(
    "KEYWORD_",
    "ADULT_SEXUAL_MATERIAL AGE_SPECIFIC_RESTRICTIONS AGE_SPECIFIC_RESTRICTIONS_MINORS "
    "ANIMAL_HARM BIOMETRIC_DATA_BREACH BULLYING_AGAINST_GIRLS CHILD_SEXUAL_ABUSE_MATERIAL "
    "CHILD_SEXUAL_ABUSE_MATERIAL_DEEPFAKE CONTENT_PROMOTING_EATING_DISORDERS COORDINATED_HARM "
    "COPYRIGHT_INFRINGEMENT CYBER_BULLYING_INTIMIDATION CYBER_HARASSMENT "
    "CYBER_HARASSMENT_AGAINST_WOMEN CYBER_INCITEMENT CYBER_STALKING CYBER_STALKING_AGAINST_WOMEN "
    "DATA_FALSIFICATION DEFAMATION DESIGN_INFRINGEMENT DISCRIMINATION "
    "FEMALE_GENDERED_DISINFORMATION GEOGRAPHIC_INDICATIONS_INFRINGEMENT GEOGRAPHICAL_REQUIREMENTS "
    "GOODS_SERVICES_NOT_PERMITTED GROOMING_SEXUAL_ENTICEMENT_MINORS HATE_SPEECH "
    "HIDDEN_ADVERTISEMENT HUMAN_EXPLOITATION HUMAN_TRAFFICKING ILLEGAL_ORGANIZATIONS "
    "IMPERSONATION_ACCOUNT_HIJACKING INAUTHENTIC_ACCOUNTS INAUTHENTIC_LISTINGS "
    "INAUTHENTIC_USER_REVIEWS INCITEMENT_AGAINST_WOMEN INCITEMENT_VIOLENCE_HATRED "
    "INSUFFICIENT_INFORMATION_ON_TRADERS LANGUAGE_REQUIREMENTS MISINFORMATION_DISINFORMATION "
    "MISLEADING_INFO_CONSUMER_RIGHTS MISLEADING_INFO_GOODS_SERVICES MISSING_PROCESSING_GROUND "
    "NON_CONSENSUAL_IMAGE_SHARING NON_CONSENSUAL_IMAGE_SHARING_AGAINST_WOMEN "
    "NON_CONSENSUAL_MATERIAL_DEEPFAKE NON_CONSENSUAL_MATERIAL_DEEPFAKE_AGAINST_WOMEN "
    "NONCOMPLIANCE_PRICING NUDITY PATENT_INFRINGEMENT PHISHING PROHIBITED_PRODUCTS "
    "PYRAMID_SCHEMES RIGHT_TO_BE_FORGOTTEN RISK_ENVIRONMENTAL_DAMAGE RISK_PUBLIC_HEALTH "
    "SELF_MUTILATION STALKING SUICIDE TERRORIST_CONTENT TRADE_SECRET_INFRINGEMENT "
    "TRADEMARK_INFRINGEMENT TRAFFICKING_WOMEN_GIRLS UNLAWFUL_SALE_ANIMALS UNSAFE_CHALLENGES "
    "UNSAFE_PRODUCTS VIOLATION_EU_LAW VIOLATION_NATIONAL_LAW OTHER",
)
SOURCE_TYPES = {
    "SOURCE_ARTICLE_16",
    "SOURCE_TRUSTED_FLAGGER",
    "SOURCE_TYPE_OTHER_NOTIFICATION",
    "SOURCE_VOLUNTARY",
}
AUTOMATED_DECISIONS = {
    "AUTOMATED_DECISION_FULLY",
    "AUTOMATED_DECISION_PARTIALLY",
    "AUTOMATED_DECISION_NOT_AUTOMATED",
}
YES_NO = {"Yes", "No"}
COUNTRIES = _names(
    "",
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IS IT LI LT LU LV MT NL NO PL PT RO SE SI SK",
)
LANGUAGES = _names(
    "",
    "AB AA AF AK SQ AM AR AN HY AS AV AE AY AZ BM BA EU BE BN BH BI BS BR BG MY CA KM CH CE NY ZH "
    "CU CV KW CO CR HR CS DA DV NL DZ EN EO ET EE FO FJ FI FR FF GD GL LG KA DE KI EL KL GN GU HT "
    "HA HE HZ HI HO HU IS IO IG ID IA IE IU IK GA IT JA JV KN KR KS KK RW KV KG KO KJ KU KY LO LA "
    "LV LB LI LN LT LU MK MG MS ML MT GV MI MR MH RO MN NA NV ND NG NE SE NO NB NN II OC OJ OR OM "
    "OS PI PA PS FA PL PT QU RM RN RU SM SG SA SC SR SN SD SI SK SL SO ST NR ES SU SW SS SV TL TY "
    "TG TA TT TE TH BO TI TO TS TN TR TK TW UG UK UR UZ VE VI VO WA CY FY WO XH YI YO ZA ZU",
)
PUID = re.compile(r"^[a-zA-Z0-9\-_]+$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ATTRIBUTES = {
    "content_id", "content_id_ean", "decision_visibility", "decision_visibility_other",
    "decision_monetary", "decision_monetary_other", "decision_provision", "decision_account",
    "account_type", "category_specification", "category_specification_other",
    "decision_ground", "decision_ground_reference_url", "illegal_content_legal_ground",
    "illegal_content_explanation", "incompatible_content_ground",
    "incompatible_content_explanation", "incompatible_content_illegal", "content_type",
    "content_type_other", "category", "category_addition", "territorial_scope",
    "content_language", "content_date", "application_date", "end_date_account_restriction",
    "end_date_monetary_restriction", "end_date_service_restriction",
    "end_date_visibility_restriction", "decision_facts", "source_type", "source_identity",
    "automated_detection", "automated_decision", "puid",
}  # fmt: skip


def validate(statement: Any) -> dict[str, list[str]]:
    """The validation errors of one statement, by attribute, as the database words them."""
    errors: dict[str, list[str]] = {}

    def fail(name: str, text: str) -> None:
        errors.setdefault(name, []).append(text)

    if not isinstance(statement, dict):
        return {"statement": ["The statement must be an object."]}
    s = statement
    for name in sorted(set(s) - ATTRIBUTES):
        fail(name, f"The {name} attribute is not documented.")

    def present(name: str) -> bool:
        return s.get(name) not in (None, "", [])

    def one_of(name: str, allowed: AbstractSet[str]) -> None:
        if present(name) and s[name] not in allowed:
            fail(name, f"The selected {name.replace('_', ' ')} is invalid.")

    def array_of(name: str, allowed: AbstractSet[str]) -> None:
        if name not in s or s[name] is None:
            return
        if not isinstance(s[name], list):
            fail(name, f"The {name.replace('_', ' ')} field must be an array.")
        elif any(v not in allowed for v in s[name]):
            fail(name, f"The selected {name.replace('_', ' ')} is invalid.")

    def text(name: str, limit: int, required: bool = False) -> None:
        if required and not present(name):
            fail(name, f"The {name.replace('_', ' ')} field is required.")
        elif present(name) and (not isinstance(s[name], str) or len(s[name]) > limit):
            fail(name, f"The {name.replace('_', ' ')} field must not be greater than {limit}.")

    def a_date(name: str, low: str | None, required: bool = False) -> None:
        if not present(name):
            if required:
                fail(name, f"The {name.replace('_', ' ')} field is required.")
            return
        value = s[name]
        if not isinstance(value, str) or not DATE.match(value):
            fail(name, f"The {name.replace('_', ' ')} does not match the format YYYY-MM-DD.")
            return
        try:
            day = date.fromisoformat(value)
        except ValueError:
            fail(name, f"The {name.replace('_', ' ')} does not match the format YYYY-MM-DD.")
            return
        if (low and day < date.fromisoformat(low)) or day > date(2038, 1, 1):
            fail(name, f"The {name.replace('_', ' ')} is out of range.")

    decisions = (
        "decision_visibility",
        "decision_monetary",
        "decision_provision",
        "decision_account",
    )
    if not any(present(d) for d in decisions):
        for d in decisions:
            fail(
                d,
                f"The {d.replace('_', ' ')} field is required when none of the others are present.",
            )
    array_of("decision_visibility", DECISION_VISIBILITIES)
    if "DECISION_VISIBILITY_OTHER" in (s.get("decision_visibility") or []):
        text("decision_visibility_other", 500, required=True)
    one_of("decision_monetary", DECISION_MONETARIES)
    if s.get("decision_monetary") == "DECISION_MONETARY_OTHER":
        text("decision_monetary_other", 500, required=True)
    one_of("decision_provision", DECISION_PROVISIONS)
    one_of("decision_account", DECISION_ACCOUNTS)
    one_of("account_type", ACCOUNT_TYPES)
    array_of("category_specification", KEYWORDS)
    text("category_specification_other", 500)
    if not present("decision_ground"):
        fail("decision_ground", "The decision ground field is required.")
    one_of("decision_ground", DECISION_GROUNDS)
    if present("decision_ground_reference_url"):
        url = s["decision_ground_reference_url"]
        if not isinstance(url, str) or not re.match(r"^https?://", url) or len(url) > 500:
            fail(
                "decision_ground_reference_url",
                "The decision ground reference url must be a valid URL.",
            )
    illegal = s.get("decision_ground") == "DECISION_GROUND_ILLEGAL_CONTENT"
    incompatible = s.get("decision_ground") == "DECISION_GROUND_INCOMPATIBLE_CONTENT"
    text("illegal_content_legal_ground", 500, required=illegal)
    text("illegal_content_explanation", 2000, required=illegal)
    text("incompatible_content_ground", 500, required=incompatible)
    text("incompatible_content_explanation", 2000, required=incompatible)
    one_of("incompatible_content_illegal", YES_NO)
    if not present("content_type"):
        fail("content_type", "The content type field is required.")
    array_of("content_type", CONTENT_TYPES)
    if "CONTENT_TYPE_OTHER" in (s.get("content_type") or []):
        text("content_type_other", 500, required=True)
    if not present("category"):
        fail("category", "The category field is required.")
    one_of("category", CATEGORIES)
    array_of("category_addition", CATEGORIES)
    array_of("territorial_scope", COUNTRIES)
    one_of("content_language", LANGUAGES)
    a_date("content_date", "2000-01-01", required=True)
    a_date("application_date", "2020-01-01", required=True)
    for end in ("account", "monetary", "service", "visibility"):
        a_date(f"end_date_{end}_restriction", None)
    text("decision_facts", 5000, required=True)
    if not present("source_type"):
        fail("source_type", "The source type field is required.")
    one_of("source_type", SOURCE_TYPES)
    if s.get("source_type") != "SOURCE_VOLUNTARY":
        text("source_identity", 500)
    if not present("automated_detection"):
        fail("automated_detection", "The automated detection field is required.")
    one_of("automated_detection", YES_NO)
    if not present("automated_decision"):
        fail("automated_decision", "The automated decision field is required.")
    one_of("automated_decision", AUTOMATED_DECISIONS)
    puid = s.get("puid")
    if not present("puid"):
        fail("puid", "The puid field is required.")
    elif not isinstance(puid, str) or len(puid) > 500 or not PUID.match(puid):
        fail("puid", "The puid format is invalid.")
    return errors


@dataclass
class TransparencyDatabase:
    """What the server holds and saw: statements by puid, every raw request body, every call."""

    token: str = TOKEN
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)
    bodies: list[bytes] = field(default_factory=list)
    calls: list[tuple[str, int]] = field(default_factory=list)  # (path, status answered)
    # Answers to give before the real one: a status, or 0 for "store, then drop the connection".
    scripted: list[int] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Set `hold_next`, and the next call is stored, then its answer waits for `release` (a
    # sender killed meanwhile never reads it); `answer_held` says the call got that far.
    hold_next: bool = False
    answer_held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def store(self, statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for statement in statements:
            created = {
                **statement,
                "uuid": str(uuid.uuid4()),
                "platform_name": "Tutela test platform",
                "created_at": "2025-03-01 12:00:00",
            }
            self.stored[statement["puid"]] = created
            out.append(created)
        return out


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        db = self.server.db
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        with db.lock:
            db.bodies.append(raw)
            status, answer, drop = self._answer(db, raw)
            db.calls.append((self.path, status))
            held, db.hold_next = db.hold_next, False
        if drop:
            self.close_connection = True
            self.connection.close()
            return
        if held:
            db.answer_held.set()
            db.release.wait(120)
        body = json.dumps(answer).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the caller is gone (killed while its answer was held)
            self.close_connection = True

    def _answer(self, db: TransparencyDatabase, raw: bytes) -> tuple[int, dict[str, Any], bool]:
        if self.path not in (SINGLE, MULTIPLE):
            return 404, {"message": "Not Found"}, False
        if self.headers.get("Authorization") != f"Bearer {db.token}":
            return 401, {"message": "Unauthenticated."}, False
        if self.headers.get("Accept") != "application/json":
            return 406, {"message": "Accept application/json"}, False
        if (self.headers.get("Content-Type") or "").split(";")[0] != "application/json":
            return 415, {"message": "Content-Type application/json"}, False
        drop = False
        if db.scripted:
            scripted = db.scripted.pop(0)
            if scripted:
                return scripted, {"message": "scripted answer"}, False
            drop = True  # store what is valid, then lose the answer
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        if self.path == SINGLE:
            status, answer = self._single(db, payload)
        else:
            status, answer = self._multiple(db, payload)
        return status, answer, drop

    def _single(self, db: TransparencyDatabase, payload: Any) -> tuple[int, dict[str, Any]]:
        errors = validate(payload)
        if errors:
            return 422, {"message": next(iter(errors.values()))[0], "errors": errors}
        if payload["puid"] in db.stored:
            message = "The identifier given is not unique within this platform."
            return 422, {
                "message": message,
                "errors": {"puid": [message]},
                "existing": {"puid": payload["puid"]},
            }
        return 201, db.store([payload])[0]

    def _multiple(self, db: TransparencyDatabase, payload: Any) -> tuple[int, dict[str, Any]]:
        statements = payload.get("statements") if isinstance(payload, dict) else None
        if not isinstance(statements, list) or not 1 <= len(statements) <= 100:
            message = "The statements field must have between 1 and 100 items."
            return 422, {"message": message, "errors": {"statements": [message]}}
        errors = {}
        for index, statement in enumerate(statements):
            found = validate(statement)
            if found:
                errors[f"statement_{index}"] = found
        if errors:
            return 422, {"errors": errors}
        puids = [s["puid"] for s in statements]
        duplicates = sorted({p for p in puids if puids.count(p) > 1 or p in db.stored})
        if duplicates:
            message = "The platform identifier(s) are not all unique within this call."
            return 422, {
                "message": message,
                "errors": {"puid": [message], "existing_puids": duplicates},
            }
        return 201, {"statements": db.store(statements)}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, db: TransparencyDatabase) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.db = db


@contextmanager
def transparency_database() -> Iterator[TransparencyDatabase]:
    """Serve a fresh database on a free port of 127.0.0.1 for the duration of the block."""
    db = TransparencyDatabase()
    server = _Server(db)
    db.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield db
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
