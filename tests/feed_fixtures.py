"""The centre's indicator feed as a provider fetches it, signed with a centre key the test made.

Not a test module. Only the network is stood in for: pages are signed and checked as in service.
"""

from __future__ import annotations

from datetime import datetime

from tutela.indicators.feed_subscription import FEED_SCHEMA, FeedPage
from tutela.messaging.canonical import canonical_json
from tutela.messaging.signing import SigningKey


class SignedFeed:
    """Serves `adds` (signal type, value) as one page after cursor 0, then empty pages."""

    def __init__(self, centre: SigningKey, adds: list[tuple[str, str]]) -> None:
        self.centre = centre
        self.adds = adds

    def fetch(self, url: str, since: int, limit: int, now: datetime) -> FeedPage:
        items = [
            {
                "seq": seq,
                "op": "add",
                "signal_type": signal_type,
                "value": value,
                "generation": {"indicator_id": seq},
            }
            for seq, (signal_type, value) in enumerate(self.adds, start=1)
            if seq > since
        ]
        body = canonical_json(
            {
                "schema": FEED_SCHEMA,
                "since": since,
                "items": items,
                "next": since + len(items),
                "more": False,
            }
        )
        return FeedPage(body, self.centre.key_id, self.centre.sign(body))
