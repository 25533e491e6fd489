"""The table of top-level commands: which modules register each, and its one-line help.

`tutela` imports only the modules of the command it runs, so that `tutela --help` and
`tutela hash` do not first load the web apps, the database layer and the index kernels.
`tests/test_cli_startup.py` checks this table against the commands the modules really register.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CommandEntry:
    modules: tuple[str, ...]  # under tutela.cli, in import order
    help: str


COMMANDS: dict[str, CommandEntry] = {
    "apikey": CommandEntry(("apikey",), "API keys of the provider node."),
    "audit": CommandEntry(("audit",), "The hash-chained audit log."),
    "authority": CommandEntry(
        ("authority", "access_orders", "compliance_record", "detection_orders"),
        "The authority node: removal orders.",
    ),
    "authority-key": CommandEntry(
        ("authority",), "Authorities whose signed orders this node accepts."
    ),
    "bank": CommandEntry(
        ("bank", "feed", "bank_media"), "Banks: named lists of hashes to match against."
    ),
    "centre": CommandEntry(("centre", "centre_urls", "victims"), "The EU Centre node."),
    "db": CommandEntry(("db",), "The database: schema migrations."),
    "detection": CommandEntry(
        ("detection",), "Detection orders and voluntary bases that allow detection."
    ),
    "hash": CommandEntry(
        ("hash",),
        "Hash images and videos: PDQ (perceptual) or vPDQ, and MD5, SHA-1, SHA-256 of the bytes.",
    ),
    "keys": CommandEntry(("keys",), "The key pair that signs reports."),
    "match": CommandEntry(
        ("match",),
        "Match files (PDQ with all eight rotations/flips, and MD5/SHA-1/SHA-256) or hashes.",
    ),
    "notices": CommandEntry(("enforcement",), "User notices held through silence periods."),
    "orders": CommandEntry(("orders",), "Blocking and delisting orders in force."),
    "outbox": CommandEntry(("outbox",), "Messages to other nodes."),
    "policy": CommandEntry(("policy",), "What matches of each bank lead to."),
    "risk": CommandEntry(("risk", "risk_sending"), "The risk assessment register (Art 3-5)."),
    "safelist": CommandEntry(("policy",), "Known false positives, whose matches are suppressed."),
    "scan": CommandEntry(
        ("scan",),
        "Match a backlog of images and videos against every bank; files already decided are "
        "skipped on a re-run.",
    ),
    "serve": CommandEntry(
        ("serve",),
        "Run the provider node: the HTTP API, and detection workers that decide every item.",
    ),
    "status": CommandEntry(
        ("status",), "Summarise queues (items, review, outbox, webhooks) and open alerts."
    ),
    "takedowns": CommandEntry(("enforcement",), "Takedown requests to the platform."),
    "transparency": CommandEntry(
        ("transparency", "transparency_sending"), "Yearly figures with error rates (Art 83)."
    ),
    "user": CommandEntry(("user",), "Console users and their roles."),
    "vault": CommandEntry(("vault",), "The encrypted evidence vault (Art 22)."),
    "webhooks": CommandEntry(
        ("webhooks",), "Platform webhook deliveries: list them, send failed ones again."
    ),
    "worker": CommandEntry(
        ("worker",), "Run one detection worker (for scaling workers apart from the API)."
    ),
}
