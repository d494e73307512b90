"""The frames' fixed schemas: a contract with users (docs/schemas.md).

Every frame has exactly these columns, in this order, with these dtypes, even when empty
or when every lookup failed. The bottom layer: the store, the frames and the batch all
read them, and this module imports nothing of rdaplab.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

UTC_US = pl.Datetime("us", "UTC")
STR_LIST = pl.List(pl.Utf8())

DOMAINS_SCHEMA = pl.Schema(
    {
        "query": pl.Utf8(),
        "domain": pl.Utf8(),
        "unicode_name": pl.Utf8(),
        "outcome": pl.Utf8(),
        "error_kind": pl.Utf8(),
        "error_detail": pl.Utf8(),
        "tld": pl.Utf8(),
        "registry_url": pl.Utf8(),
        "handle": pl.Utf8(),
        "registrar": pl.Utf8(),
        "registrar_iana_id": pl.Utf8(),
        "registrar_url": pl.Utf8(),
        "referral_status": pl.Utf8(),
        # the registry's (depth-0 answer's) date, else the registrar's (docs/schemas.md)
        "registration_date": UTC_US,
        # the registrar's (referral answer's) own date: it may differ from the registry's
        "registrar_registration_date": UTC_US,
        "expiration_date": UTC_US,
        "last_changed_date": UTC_US,
        "rdap_status": STR_LIST,
        "nameservers": STR_LIST,
        "dnssec": pl.Boolean(),
        "http_status": pl.Int16(),
        "attempts": pl.Int32(),
        "latency_ms": pl.Float64(),
        "from_cache": pl.Boolean(),
        "fetched_at": UTC_US,
    }
)

EVENTS_SCHEMA = pl.Schema(
    {
        "domain": pl.Utf8(),
        "source": pl.Utf8(),
        "action": pl.Utf8(),
        "date": UTC_US,
        # the eventDate as served when ``date`` could not be read from it (else null)
        "date_text": pl.Utf8(),
        "actor": pl.Utf8(),
        "query_kind": pl.Utf8(),
        "key": pl.Utf8(),
    }
)

ENTITIES_SCHEMA = pl.Schema(
    {
        "domain": pl.Utf8(),
        "source": pl.Utf8(),
        "handle": pl.Utf8(),
        "role": pl.Utf8(),
        "parent_handle": pl.Utf8(),
        "name": pl.Utf8(),
        "organization": pl.Utf8(),
        "email": pl.Utf8(),
        "phone": pl.Utf8(),
        "country": pl.Utf8(),
        "name_redacted": pl.Boolean(),
        "organization_redacted": pl.Boolean(),
        "email_redacted": pl.Boolean(),
        "phone_redacted": pl.Boolean(),
        "country_redacted": pl.Boolean(),
        # Blanked by rdaplab (redact_pii=True: an individual's name, email, phone, address), as
        # opposed to the *_redacted flags, which say what the server itself withheld.
        "pii_redacted": pl.Boolean(),
        # jCard/JSContact kind as served (individual, org, group, location), lowercased.
        "kind": pl.Utf8(),
        # Postal address, lines joined by "\n" (structured adr, its label, or JSContact).
        "address": pl.Utf8(),
        "address_redacted": pl.Boolean(),
        # The entity is a privacy/proxy service (registrant and other domain contacts).
        "privacy_proxy": pl.Boolean(),
        "query_kind": pl.Utf8(),
        "key": pl.Utf8(),
    }
)

NAMESERVERS_SCHEMA = pl.Schema(
    {
        "domain": pl.Utf8(),
        "source": pl.Utf8(),
        "nameserver": pl.Utf8(),
        "ipv4": STR_LIST,
        "ipv6": STR_LIST,
        "query_kind": pl.Utf8(),
        "key": pl.Utf8(),
    }
)

REDACTIONS_SCHEMA = pl.Schema(
    {
        "domain": pl.Utf8(),
        "source": pl.Utf8(),
        "name": pl.Utf8(),
        "method": pl.Utf8(),
        "path": pl.Utf8(),
        "reason": pl.Utf8(),
        "query_kind": pl.Utf8(),
        "key": pl.Utf8(),
    }
)

# Per input row, whatever its kind: what happened to it. ``key`` is the normalized query
# (the ``domain`` of domain rows); ``query_kind`` and ``key`` join the detail frames.
_OUTCOME_HEAD: dict[str, pl.DataType] = {
    "outcome": pl.Utf8(),
    "error_kind": pl.Utf8(),
    "error_detail": pl.Utf8(),
    "registry_url": pl.Utf8(),
}
_OUTCOME_TAIL: dict[str, pl.DataType] = {
    "http_status": pl.Int16(),
    "attempts": pl.Int32(),
    "latency_ms": pl.Float64(),
    "from_cache": pl.Boolean(),
    "fetched_at": UTC_US,
}

QUERIES_SCHEMA = pl.Schema(
    {"query": pl.Utf8(), "query_kind": pl.Utf8(), "key": pl.Utf8()} | _OUTCOME_HEAD | _OUTCOME_TAIL
)

NETWORKS_SCHEMA = pl.Schema(
    {"query": pl.Utf8(), "key": pl.Utf8()}
    | _OUTCOME_HEAD
    | {
        "handle": pl.Utf8(),
        "start_address": pl.Utf8(),
        "end_address": pl.Utf8(),
        "cidrs": STR_LIST,
        "ip_version": pl.Int8(),
        "name": pl.Utf8(),
        "type": pl.Utf8(),
        "country": pl.Utf8(),
        "parent_handle": pl.Utf8(),
        "rir": pl.Utf8(),
        "registration_date": UTC_US,
        "last_changed_date": UTC_US,
        "abuse_email": pl.Utf8(),
        "abuse_handle": pl.Utf8(),
        "rdap_status": STR_LIST,
    }
    | _OUTCOME_TAIL
)

AUTNUMS_SCHEMA = pl.Schema(
    {"query": pl.Utf8(), "key": pl.Utf8()}
    | _OUTCOME_HEAD
    | {
        "handle": pl.Utf8(),
        "start_autnum": pl.Int64(),
        "end_autnum": pl.Int64(),
        "name": pl.Utf8(),
        "type": pl.Utf8(),
        "country": pl.Utf8(),
        "rir": pl.Utf8(),
        "registration_date": UTC_US,
        "last_changed_date": UTC_US,
        "abuse_email": pl.Utf8(),
        "abuse_handle": pl.Utf8(),
        "rdap_status": STR_LIST,
    }
    | _OUTCOME_TAIL
)

REMARKS_SCHEMA = pl.Schema(
    {
        "query_kind": pl.Utf8(),
        "key": pl.Utf8(),
        "source": pl.Utf8(),
        "title": pl.Utf8(),
        "type": pl.Utf8(),
        "description": pl.Utf8(),
    }
)

LINKS_SCHEMA = pl.Schema(
    {
        "query_kind": pl.Utf8(),
        "key": pl.Utf8(),
        "source": pl.Utf8(),
        "rel": pl.Utf8(),
        "href": pl.Utf8(),
        "type": pl.Utf8(),
        "value": pl.Utf8(),
    }
)

# What changed between two snapshots of the same names (rdaplab.diff): one row per name and
# changed field. ``before``/``after`` are the values as text (ISO dates; sets sorted and
# joined by ", "); ``added``/``removed`` the members that came and went for set fields.
# ``category`` keeps real changes ("change") apart from names that came or went
# ("presence") and from rows where either snapshot failed ("error").
DIFF_SCHEMA = pl.Schema(
    {
        "domain": pl.Utf8(),
        "change": pl.Utf8(),
        "field": pl.Utf8(),
        "category": pl.Utf8(),
        "before": pl.Utf8(),
        "after": pl.Utf8(),
        "added": STR_LIST,
        "removed": STR_LIST,
        "before_outcome": pl.Utf8(),
        "after_outcome": pl.Utf8(),
        "before_fetched_at": UTC_US,
        "after_fetched_at": UTC_US,
        "before_snapshot": pl.Utf8(),
        "after_snapshot": pl.Utf8(),
    }
)

# Mirrors rdaplab.models.Attempt field by field (the cache returns attempts in it).
ATTEMPTS_SCHEMA = pl.Schema(
    {
        "batch_id": pl.Utf8(),
        "host": pl.Utf8(),
        "url": pl.Utf8(),
        "query_kind": pl.Utf8(),
        "query": pl.Utf8(),
        "started_at": UTC_US,
        "latency_ms": pl.Float64(),
        "status": pl.Int16(),
        "bytes": pl.Int64(),
        "retry_after_s": pl.Float64(),
        "error_kind": pl.Utf8(),
        "error_detail": pl.Utf8(),
        "attempt": pl.Int16(),
        "throttled": pl.Boolean(),
        "rate_limit": pl.Float64(),
        "concurrency_limit": pl.Int32(),
        "in_flight": pl.Int32(),
        "priority": pl.Utf8(),
        "signal": pl.Utf8(),
        "decision": pl.Utf8(),
    }
)


def empty(schema: pl.Schema) -> pl.DataFrame:
    """A zero-row frame with exactly ``schema``."""
    return pl.DataFrame(schema=schema)


def _empty_of(schema: pl.Schema) -> Any:
    return field(default_factory=lambda: empty(schema))


@dataclass
class Frames:
    """The normalized result of a batch: one frame per table.

    ``domains``, ``networks``, ``autnums`` and ``queries`` have one row per input row (of
    their kind; ``queries`` of every kind); the detail frames have rows per distinct
    object, keyed by ``query_kind`` and ``key``.
    """

    domains: pl.DataFrame
    events: pl.DataFrame
    entities: pl.DataFrame
    nameservers: pl.DataFrame
    redactions: pl.DataFrame
    networks: pl.DataFrame = _empty_of(NETWORKS_SCHEMA)  # noqa: RUF009
    autnums: pl.DataFrame = _empty_of(AUTNUMS_SCHEMA)  # noqa: RUF009
    remarks: pl.DataFrame = _empty_of(REMARKS_SCHEMA)  # noqa: RUF009
    links: pl.DataFrame = _empty_of(LINKS_SCHEMA)  # noqa: RUF009
    queries: pl.DataFrame = _empty_of(QUERIES_SCHEMA)  # noqa: RUF009

    @classmethod
    def empty(cls) -> Frames:
        """Every frame with its schema and no rows."""
        return cls(
            domains=empty(DOMAINS_SCHEMA),
            events=empty(EVENTS_SCHEMA),
            entities=empty(ENTITIES_SCHEMA),
            nameservers=empty(NAMESERVERS_SCHEMA),
            redactions=empty(REDACTIONS_SCHEMA),
        )
