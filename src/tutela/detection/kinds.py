"""What detection looks for (Art 7(1)): the kinds an order or a voluntary basis names, each
matched against the Centre's indicator database of the same name (Art 44(1))."""

from __future__ import annotations

from enum import StrEnum

# A service part's name, as items give it in `metadata.service`.
SERVICE_MAX = 128


class DetectionKind(StrEnum):
    KNOWN = "known"  # known material: hash matching against the Centre's indicators
    NEW = "new"  # new material: classifiers
    SOLICITATION = "solicitation"  # solicitation of children: messaging services only
