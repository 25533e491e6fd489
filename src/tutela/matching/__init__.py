"""Matching: hashes in, nearest known indicators out (exact Hamming search for PDQ, exact digests).

An engine layer: imports nothing of databases, HTTP or the domain.
"""

from tutela.matching.exact_index import ExactIndex
from tutela.matching.pdq_index import CODE_BYTES, MAX_CODES, MAX_RADIUS, PdqIndex

__all__ = ["CODE_BYTES", "MAX_CODES", "MAX_RADIUS", "ExactIndex", "PdqIndex"]
