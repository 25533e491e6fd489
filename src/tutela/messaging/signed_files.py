"""Signed documents exported as files (a provider's Art 5 risk report, the authority's
compliance record of a provider): ONE envelope — the document as signed (canonical JSON carrying
its signing time and key id), its detached signature, the key id and the public key to check it
with — and ONE check of such a file, so that anyone holding the signer's key can verify it."""

from __future__ import annotations

import json
from typing import Any

from tutela.errors import InvalidInput, InvalidSignature
from tutela.messaging.canonical import canonical_json, parse_json
from tutela.messaging.signing import (
    SignedReport,
    SigningKey,
    key_id_of,
    load_public_key,
    verify_signature,
)


def signed_file(file_format: str, signed: SignedReport, key: SigningKey) -> bytes:
    """The file of one signed document: indented JSON, the document as it was signed."""
    envelope = {
        "format": file_format,
        "document": json.loads(signed.body),
        "signature": signed.signature,
        "key_id": signed.key_id,
        "public_key": key.public_key_pem(),
    }
    return json.dumps(envelope, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"


def verify_signed_file(
    data: bytes,
    file_format: str,
    public_key_pem: str | None = None,
    *,
    content: str = "document",
    signed_as: str = "document",
) -> dict[str, Any]:
    """The document of a `file_format` file, if its signature verifies against `public_key_pem`
    (the key in the file when None) and the document names that key. `content` and `signed_as`
    name the document in refusals ("the file lacks its record", "the report was signed …")."""
    envelope = parse_json(data)
    if not isinstance(envelope, dict) or envelope.get("format") != file_format:
        raise InvalidInput(f"not a {file_format} file")
    document, signature = envelope.get("document"), envelope.get("signature")
    if not isinstance(document, dict) or not isinstance(signature, str):
        raise InvalidInput(f"the file lacks its {content} or signature")
    pem = public_key_pem or envelope.get("public_key")
    if not isinstance(pem, str):
        raise InvalidInput("the file names no public key")
    public_key = load_public_key(pem)
    if document.get("key_id") != key_id_of(public_key):
        raise InvalidSignature(f"the {signed_as} was signed with another key")
    verify_signature(public_key, canonical_json(document), signature)
    return document
