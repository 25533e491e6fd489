"""The messaging kernel's own rules: one classification of HTTP answers (Retry-After honoured),
one backoff with jitter, one HTTP client, one sealing format that still opens what the two
former sealing modules wrote, one webhook signature."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime

import httpx
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tutela.db import Database
from tutela.errors import (
    ConfigurationError,
    PermanentDeliveryError,
    TamperedData,
    TransientDeliveryError,
)
from tutela.messaging.crypto import new_data_key, seal, unseal
from tutela.messaging.http import open_client, send_request
from tutela.messaging.retry import (
    MAX_RETRY_AFTER_S,
    RetryPolicy,
    Verdict,
    classify_exception,
    classify_response,
    retry_after_s,
)
from tutela.messaging.signing import webhook_signature
from tutela.reporting.transports.ncmec import (
    CREDENTIAL_CONTEXT,
    CREDENTIAL_NAME,
    load_credentials,
    store_credentials,
)
from tutela.reporting.transports.ncmec_models import NcmecCredential

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def answer(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, headers=headers or {})


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_a_2xx_answer_is_delivered(status: int) -> None:
    assert classify_response(answer(status)).verdict is Verdict.DELIVERED


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504])
def test_answers_that_say_later_are_retried(status: int) -> None:
    result = classify_response(answer(status))
    assert (result.verdict, result.status_code) == (Verdict.RETRY, status)
    assert result.error == f"endpoint answered {status}"


@pytest.mark.parametrize("status", [301, 302, 400, 401, 403, 404, 409, 410, 422, 501])
def test_answers_that_say_never_are_permanent(status: int) -> None:
    assert classify_response(answer(status)).verdict is Verdict.PERMANENT


def test_no_answer_at_all_is_retried_and_named_by_its_class_only() -> None:
    result = classify_exception(httpx.ConnectTimeout("secret body text"))
    assert (result.verdict, result.status_code, result.error) == (
        Verdict.RETRY,
        None,
        "ConnectTimeout",
    )


def test_retry_after_in_seconds_is_honoured() -> None:
    result = classify_response(answer(429, {"Retry-After": "120"}))
    assert result.retry_after_s == 120.0


def test_retry_after_as_a_date_is_measured_against_the_receivers_own_date() -> None:
    headers = {
        "Date": "Sat, 01 Mar 2025 12:00:00 GMT",
        "Retry-After": "Sat, 01 Mar 2025 12:05:00 GMT",
    }
    assert classify_response(answer(503, headers)).retry_after_s == 300.0


def test_an_unreadable_or_excessive_retry_after_is_ignored_or_bounded() -> None:
    assert retry_after_s("soon", NOW) is None
    assert retry_after_s("", NOW) is None
    assert retry_after_s("99999999", NOW) == MAX_RETRY_AFTER_S
    assert retry_after_s("Sat, 01 Mar 2025 11:00:00 GMT", NOW) == 0.0


def test_backoff_lies_between_half_and_all_of_the_doubling_ceiling() -> None:
    low = RetryPolicy(base_s=5.0, max_s=60.0, rng=lambda: 0.0)
    high = RetryPolicy(base_s=5.0, max_s=60.0, rng=lambda: 1.0)
    assert [low.backoff_s(n) for n in (1, 2, 3, 4, 5)] == [2.5, 5.0, 10.0, 20.0, 30.0]
    assert [high.backoff_s(n) for n in (1, 2, 3, 4, 5)] == [5.0, 10.0, 20.0, 40.0, 60.0]


def test_a_receivers_retry_after_lengthens_the_backoff_but_never_shortens_it() -> None:
    policy = RetryPolicy(base_s=5.0, rng=lambda: 1.0)
    assert policy.backoff_s(1, retry_after=120.0) == 120.0
    assert policy.backoff_s(3, retry_after=1.0) == 20.0


def test_the_policy_gives_up_after_its_last_attempt() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert [policy.gives_up(n) for n in (1, 2, 3)] == [False, False, True]


def test_the_client_names_itself_and_follows_no_redirect() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"Location": "https://elsewhere.example/x"})

    with open_client(transport=httpx.MockTransport(handler)) as client:
        request = client.build_request("POST", "https://centre.example/v1/reports", content=b"{}")
        with pytest.raises(PermanentDeliveryError, match="POST /v1/reports answered 302"):
            send_request(client, request)
    assert len(seen) == 1
    assert seen[0].headers["User-Agent"].startswith("tutela/")


def test_send_request_carries_the_status_and_retry_after_on_its_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, headers={"Retry-After": "30"}, text="an echoed body")

    with open_client(transport=httpx.MockTransport(handler)) as client:
        request = client.build_request("POST", "https://centre.example/v1/reports")
        with pytest.raises(TransientDeliveryError) as raised:
            send_request(client, request)
    assert (raised.value.status_code, raised.value.retry_after_s) == (503, 30.0)
    assert "echoed" not in raised.value.message


def test_sealed_data_opens_only_with_its_key_and_associated_data() -> None:
    key = new_data_key()
    sealed = seal(key, b"plain", b"row 1")
    assert unseal(key, sealed, b"row 1", "the thing") == b"plain"
    with pytest.raises(TamperedData, match="the thing failed its integrity check"):
        unseal(key, sealed, b"row 2", "the thing")
    with pytest.raises(TamperedData):
        unseal(new_data_key(), sealed, b"row 1", "the thing")


def test_what_the_former_envelope_and_sealing_modules_wrote_still_opens() -> None:
    # Both wrote AES-GCM with a 12-byte random nonce: the envelope as nonce + ciphertext, the
    # credentials sealing as the two apart. The one format is the first; the second joins.
    key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(12)
    ciphertext = AESGCM(key).encrypt(nonce, b"old secret", b"context")
    assert unseal(key, nonce + ciphertext, b"context", "old data") == b"old secret"


def test_credentials_sealed_before_the_one_crypto_module_still_load(database: Database) -> None:
    encoded = base64.b64encode(os.urandom(32)).decode()
    key = base64.b64decode(encoded)
    nonce = os.urandom(12)
    secret = json.dumps({"username": "u", "password": "p", "url": "https://ncmec.invalid"})
    old = AESGCM(key).encrypt(nonce, secret.encode(), CREDENTIAL_CONTEXT)
    with database.unit_of_work() as session:
        session.add(NcmecCredential(name=CREDENTIAL_NAME, nonce=nonce, sealed=old))
    with database.reader() as session:
        assert load_credentials(session, encoded) == ("u", "p", "https://ncmec.invalid")


def test_credentials_under_another_key_do_not_load(database: Database) -> None:
    with database.unit_of_work() as session:
        store_credentials(
            session, base64.b64encode(os.urandom(32)).decode(), "u", "p", "https://x.invalid"
        )
    with database.reader() as session, pytest.raises(ConfigurationError, match="do not open"):
        load_credentials(session, base64.b64encode(os.urandom(32)).decode())


def test_the_webhook_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"a-secret", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert webhook_signature("a-secret", "1700000000", b"{}") == "sha256=" + expected
