"""The Art 3(2) factors of one service part as a structured form: each a typed field with a
closed set of answers, so that assessments compare across parts, versions and providers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any

from tutela.errors import InvalidInput


class AgeAssurance(StrEnum):
    """Art 3(2)(b)(ii): how the service knows a user's age."""

    NONE = "none"
    SELF_DECLARATION = "self_declaration"
    ESTIMATION = "estimation"
    VERIFICATION = "verification"


class UserReporting(StrEnum):
    """Art 3(2)(b)(iii): how users can flag abuse to the provider."""

    NONE = "none"
    BASIC = "basic"
    CHILD_FRIENDLY = "child_friendly"  # easy to find and use for a child


class ChildrenUse(StrEnum):
    """Art 3(2)(d): how far children use the service (or are likely to)."""

    NOT_ALLOWED = "not_allowed"  # terms and age assurance keep children out
    UNLIKELY = "unlikely"
    LIKELY = "likely"
    TARGETED = "targeted"  # made for children


# The yes/no functions of Art 3(2)(a), (e): what users can do on the part.
FUNCTIONS: tuple[str, ...] = (
    "direct_messaging",
    "image_video_sharing",
    "live_streaming",
    "public_spaces",
    "private_spaces",
    "contact_with_strangers",
    "ephemeral_content",
    "end_to_end_encryption",
)
CHOICES: dict[str, type[StrEnum]] = {
    "age_assurance": AgeAssurance,
    "user_reporting": UserReporting,
    "children_use": ChildrenUse,
}
LABELS: dict[str, str] = {
    "direct_messaging": "Direct messaging between users",
    "image_video_sharing": "Image or video sharing",
    "live_streaming": "Live streaming",
    "public_spaces": "Public spaces (open feeds, forums)",
    "private_spaces": "Private spaces (closed groups, private channels)",
    "contact_with_strangers": "Users can contact people they do not know",
    "ephemeral_content": "Content that disappears",
    "end_to_end_encryption": "End-to-end encrypted",
    "age_assurance": "Age assurance",
    "user_reporting": "User reporting",
    "children_use": "How children use it",
}


@dataclass(frozen=True, slots=True)
class PartFactors:
    """What one service part lets users do, and who uses it (Art 3(2))."""

    direct_messaging: bool = False
    image_video_sharing: bool = False
    live_streaming: bool = False
    public_spaces: bool = False
    private_spaces: bool = False
    contact_with_strangers: bool = False
    ephemeral_content: bool = False
    end_to_end_encryption: bool = False
    age_assurance: AgeAssurance = AgeAssurance.NONE
    user_reporting: UserReporting = UserReporting.NONE
    children_use: ChildrenUse = ChildrenUse.UNLIKELY

    def as_dict(self) -> dict[str, Any]:
        return {name: str(v) if isinstance(v, StrEnum) else v for name, v in asdict(self).items()}


def parse_factors(values: Mapping[str, Any]) -> PartFactors:
    """The factors from JSON-like values: booleans for the functions, one of the listed answers
    for the others; an unknown name or answer is refused, naming it."""
    known = {f.name for f in fields(PartFactors)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InvalidInput(f"unknown risk factor {unknown[0]!r}")
    parsed: dict[str, Any] = {}
    for name, value in values.items():
        if name in CHOICES:
            choice = CHOICES[name]
            try:
                parsed[name] = choice(value)
            except ValueError:
                allowed = ", ".join(c.value for c in choice)
                raise InvalidInput(f"{name} must be one of {allowed}") from None
        elif isinstance(value, bool):
            parsed[name] = value
        else:
            raise InvalidInput(f"{name} must be true or false")
    return PartFactors(**parsed)
