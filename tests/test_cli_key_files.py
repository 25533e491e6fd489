"""The three nodes' `keys generate` commands write a 0600 key and print it the same way."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from video_files import TUTELA


@pytest.mark.parametrize(
    ("command", "name"),
    [
        (["keys"], "provider-ed25519.pem"),
        (["centre", "keys"], "centre-ed25519.pem"),
        (["authority", "keys"], "authority-ed25519.pem"),
    ],
)
def test_each_node_generates_its_key_and_prints_id_and_public_key(
    tmp_path: Path, command: list[str], name: str
) -> None:
    # The caller's environment (its PYTHONPATH: the sources under test) less any TUTELA_ setting.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUTELA_")}
    env["TUTELA_DATA_DIR"] = str(tmp_path)
    argv = [TUTELA, *command, "generate", "--json", "--public-out", str(tmp_path / "pub.pem")]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    line = json.loads(done.stdout)
    assert line["private_key_file"] == str(tmp_path / "keys" / name)
    assert (tmp_path / "keys" / name).stat().st_mode & 0o777 == 0o600
    assert line["public_key"] == (tmp_path / "pub.pem").read_text()
    again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and "[conflict]" in again.stderr
