"""Normalized, fixed-schema Polars frames from lookup results.

``build_frames`` decodes and normalizes each distinct key's answers once and fans the rows
out to the input rows; ``redact`` blanks individuals and minimizes columns. The schemas
(a contract, docs/schemas.md) live in :mod:`rdaplab.schemas` and are re-exported here.
"""

from rdaplab.frames.build import (
    build_frames,
    normalize_result,
    normalize_results,
    queries_from_domains,
)
from rdaplab.frames.diff import CHANGE_KINDS, diff_domains, expiry_outcomes
from rdaplab.frames.objects import domain_remarks_and_links
from rdaplab.frames.redact import redact_frames, select_fields
from rdaplab.models import Normalized
from rdaplab.schemas import (
    ATTEMPTS_SCHEMA,
    AUTNUMS_SCHEMA,
    DIFF_SCHEMA,
    DOMAINS_SCHEMA,
    ENTITIES_SCHEMA,
    EVENTS_SCHEMA,
    LINKS_SCHEMA,
    NAMESERVERS_SCHEMA,
    NETWORKS_SCHEMA,
    QUERIES_SCHEMA,
    REDACTIONS_SCHEMA,
    REMARKS_SCHEMA,
    Frames,
    empty,
)

__all__ = [
    "ATTEMPTS_SCHEMA",
    "AUTNUMS_SCHEMA",
    "CHANGE_KINDS",
    "DIFF_SCHEMA",
    "DOMAINS_SCHEMA",
    "ENTITIES_SCHEMA",
    "EVENTS_SCHEMA",
    "LINKS_SCHEMA",
    "NAMESERVERS_SCHEMA",
    "NETWORKS_SCHEMA",
    "QUERIES_SCHEMA",
    "REDACTIONS_SCHEMA",
    "REMARKS_SCHEMA",
    "Frames",
    "Normalized",
    "build_frames",
    "diff_domains",
    "domain_remarks_and_links",
    "empty",
    "expiry_outcomes",
    "normalize_result",
    "normalize_results",
    "queries_from_domains",
    "redact_frames",
    "select_fields",
]
