"""Hostile files submitted through the API get `error` verdicts with their codes; the node goes on."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from hostile_files import HASH, hostile_cases
from provider_fixtures import drawn_image, jpeg, make_key, running_node, wait_decided
from tutela.db.database import open_database
from tutela.settings import Settings


def test_hostile_uploads_get_error_verdicts_and_the_node_keeps_serving(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    database = open_database(settings)
    key = make_key(database)
    database.close()
    cases = hostile_cases()
    with (
        running_node(settings, tmp_path, workers=2, TUTELA_DECODE_TIMEOUT_S="10") as node,
        httpx.Client(
            base_url=node.url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        ) as client,
    ):
        ids = {}
        for case in cases:
            meta = json.dumps({"item_id": case.name})
            answer = client.post(
                "/v1/items", files={"file": (case.name, case.data)}, data={"metadata": meta}
            )
            assert answer.status_code == 202, case.name
            ids[case.name] = answer.json()["id"]
        decided = wait_decided(client, list(ids.values()), timeout_s=180)
        for case in cases:
            view = decided[ids[case.name]]
            if case.expect == HASH:
                assert view["verdict"] == "no_match", case.name
            else:
                assert view["verdict"] == "error", case.name
                assert view["error"]["code"] == case.expect, case.name  # type: ignore[index]
        assert client.get("/healthz").status_code == 200
        after = client.post(
            "/v1/items",
            files={"file": ("ok.jpg", jpeg(drawn_image(7)))},
            data={"metadata": json.dumps({"item_id": "after"})},
        )
        assert wait_decided(client, [after.json()["id"]])[after.json()["id"]]["verdict"] == (
            "no_match"
        )
