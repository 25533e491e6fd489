"""The items part of the provider's OpenAPI document: every schema it references is defined, and
every field a platform may send is described, with an example upload carrying the metadata a
report needs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine

from tutela.api.schemas import ItemCreate, ItemMetadata
from tutela.db.database import Database
from tutela.nodes.provider import create_app
from tutela.settings import Settings

# What a report to the EU Centre needs of an upload (Art 13(1)(d)-(f)): the example carries it.
REPORT_NEEDS = ("item_id", "account_id", "upload_ip", "upload_port", "uploaded_at", "service")


def openapi() -> dict[str, Any]:
    app = create_app(Settings(), database=Database(create_engine("sqlite://")))
    document: dict[str, Any] = app.openapi()
    return document


def references(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in references(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in references(value)]
    return []


def items_body() -> dict[str, Any]:
    body: dict[str, Any] = openapi()["paths"]["/v1/items"]["post"]["requestBody"]
    return body


def test_every_schema_the_items_routes_reference_is_defined() -> None:
    document = openapi()
    defined = {f"#/components/schemas/{name}" for name in document["components"]["schemas"]}
    items = {path: ops for path, ops in document["paths"].items() if path.startswith("/v1/items")}
    assert sorted(set(references(items)) - defined) == []


def test_every_metadata_field_is_in_both_request_forms_with_a_description() -> None:
    content = items_body()["content"]
    upload = content["multipart/form-data"]
    metadata = upload["schema"]["properties"]["metadata"]
    hash_only = content["application/json"]["schema"]
    for form in (metadata, hash_only["properties"]["metadata"]):
        assert set(form["properties"]) == set(ItemMetadata.model_fields)
        assert [n for n, f in form["properties"].items() if not f.get("description")] == []
    assert upload["encoding"]["metadata"]["contentType"] == "application/json"
    assert set(hash_only["properties"]) == set(ItemCreate.model_fields)


def test_the_example_upload_carries_the_metadata_a_report_needs() -> None:
    upload = items_body()["content"]["multipart/form-data"]
    (example,) = upload["examples"].values()
    assert set(REPORT_NEEDS) <= set(example["value"]["metadata"])
    ItemMetadata.model_validate(example["value"]["metadata"])  # and it is valid


def test_every_field_of_the_platform_request_bodies_has_a_description() -> None:
    document = openapi()
    schemas = document["components"]["schemas"]
    undescribed = [
        f"{name}.{field}"
        for name in ("ComplaintCreate", "TakedownConfirmationCreate", "WebhookCreate")
        for field, schema in schemas[name]["properties"].items()
        if not schema.get("description")
    ]
    assert undescribed == []
