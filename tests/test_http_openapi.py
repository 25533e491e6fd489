"""Both nodes describe their HTTP API in a valid, complete OpenAPI document: it validates against
the OpenAPI meta-schema, and every operation in it loads (each reference resolves), as a client
generator or schemathesis needs."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from schemathesis.core.result import Ok
from sqlalchemy import create_engine

from tutela.db.database import Database
from tutela.nodes.centre import create_centre_app
from tutela.nodes.provider import create_app
from tutela.settings import Settings


def provider_document() -> dict[str, Any]:
    # The route table only: an unmigrated in-memory database is never queried.
    return create_app(Settings(), database=Database(create_engine("sqlite://"))).openapi()


def centre_document() -> dict[str, Any]:
    return create_centre_app(Settings(), Database(create_engine("sqlite://"))).openapi()


DOCUMENTS = {"provider": provider_document, "centre": centre_document}


@pytest.mark.parametrize("node", sorted(DOCUMENTS))
def test_openapi_document_validates_against_the_openapi_schema(node: str) -> None:
    schemathesis.openapi.from_dict(DOCUMENTS[node]()).validate()


@pytest.mark.parametrize("node", sorted(DOCUMENTS))
def test_every_reference_in_the_openapi_document_resolves(node: str) -> None:
    document = DOCUMENTS[node]()
    unresolved = sorted({ref for ref in references(document) if resolve(document, ref) is None})
    assert not unresolved


@pytest.mark.parametrize("node", sorted(DOCUMENTS))
def test_every_operation_of_the_openapi_document_loads(node: str) -> None:
    schema = schemathesis.openapi.from_dict(DOCUMENTS[node]())
    results = list(schema.get_all_operations())
    assert [str(r.err()) for r in results if not isinstance(r, Ok)] == []
    assert len(results) > 3


def references(node: object) -> list[str]:
    """Every `$ref` value anywhere in the document."""
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in references(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in references(value)]
    return []


def resolve(document: dict[str, Any], ref: str) -> object | None:
    """What a local reference (`#/components/schemas/Name`) points at, None if nothing."""
    if not ref.startswith("#/"):
        return None
    target: object = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(target, dict) or part not in target:
            return None
        target = target[part]
    return target
