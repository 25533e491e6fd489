"""docs/webhooks.md documents every webhook event the code emits, and nothing else; the README
links both integrator documents."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "tutela"


def emitted_events() -> set[str]:
    """Values of every `"event": …` key in a dict literal of the source, a string or a
    module-level string constant."""
    events: set[str] = set()
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text())
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Dict):
                continue
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "event":
                    if isinstance(value, ast.Constant) and isinstance(value.value, str):
                        events.add(value.value)
                    elif isinstance(value, ast.Name):
                        assert value.id in constants, f"{path}: event {value.id} is not a constant"
                        events.add(constants[value.id])
                    elif isinstance(value, ast.Attribute):
                        continue  # echoes an event stored earlier (a listing), emits none
                    else:
                        raise AssertionError(f"{path}: an event name that is not a constant")
    return events


def documented_events() -> set[str]:
    text = (ROOT / "docs" / "webhooks.md").read_text()
    return set(re.findall(r"^### `([a-z_.]+)`$", text, flags=re.MULTILINE))


def test_every_emitted_webhook_event_is_documented_and_no_other() -> None:
    assert emitted_events() == documented_events()


def test_the_documented_verification_snippet_accepts_a_signature_made_by_the_node() -> None:
    from tutela.messaging.signing import webhook_signature as sign

    text = (ROOT / "docs" / "webhooks.md").read_text()
    (snippet,) = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    namespace: dict[str, object] = {}
    exec(snippet, namespace)  # the documentation's own code, as an integrator would paste it
    verify = namespace["verify"]
    import time

    body, timestamp = b'{"event":"item.verdict","id":1}', str(int(time.time()))
    headers = {
        "x-tutela-timestamp": timestamp,
        "x-tutela-signature": sign("a-secret-of-some-length", timestamp, body),
    }
    assert verify("a-secret-of-some-length", headers, body) is True  # type: ignore[operator]
    assert verify("a-secret-of-some-length", headers, body + b" ") is False  # type: ignore[operator]


def test_the_readme_links_the_integrator_documents() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "docs/webhooks.md" in readme and "docs/centre-wire-format.md" in readme
