"""rdaplab.frames.diff: what changed between two domains frames, on hand-built snapshots
whose every expected row is written out by hand."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import polars as pl
import pytest

from rdaplab.frames.diff import CHANGE_KINDS, diff_domains, expiry_outcomes, nameserver_provider
from rdaplab.schemas import DIFF_SCHEMA, DOMAINS_SCHEMA


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


BASE: dict[str, Any] = {
    "outcome": "ok",
    "registrar": "Gandi SAS",
    "registrar_iana_id": "81",
    "handle": "H1",
    "registration_date": utc(2010, 5, 1),
    "expiration_date": utc(2026, 5, 1),
    "rdap_status": ["client transfer prohibited"],
    "nameservers": ["ns1.gandi.net", "ns2.gandi.net"],
    "dnssec": False,
    "fetched_at": utc(2026, 1, 1),
}


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """A DOMAINS_SCHEMA frame: each row BASE overridden by its own values."""
    full = [{**BASE, **row} for row in rows]
    return pl.DataFrame(
        [{c: r.get(c) for c in DOMAINS_SCHEMA} for r in full], schema=DOMAINS_SCHEMA
    )


def changes(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    d = diff_domains(frame(before), frame(after), before_label="b1", after_label="b2")
    assert d.schema == DIFF_SCHEMA
    return d.select("domain", "change", "field", "category", "before", "after").rows()


def test_unchanged_names_give_no_rows_and_the_schema_holds():
    rows = [{"domain": "a.test"}, {"domain": "b.test", "outcome": "not_found"}]
    d = diff_domains(frame(rows), frame(rows))
    assert d.height == 0 and d.schema == DIFF_SCHEMA


def test_each_field_change_has_its_kind_and_text_values():
    after = {
        "domain": "a.test",
        "registrar": "OVH sas",
        "registrar_iana_id": "433",
        "expiration_date": utc(2027, 5, 1),
        "dnssec": True,
        "fetched_at": utc(2026, 6, 1),
    }
    assert changes([{"domain": "a.test"}], [after]) == [
        ("a.test", "transfer", "registrar", "change", "Gandi SAS", "OVH sas"),
        ("a.test", "transfer", "registrar_iana_id", "change", "81", "433"),
        ("a.test", "renewed", "expiration_date", "change", "2026-05-01T00:00:00Z", "2027-05-01T00:00:00Z"),
        ("a.test", "dnssec_enabled", "dnssec", "change", "false", "true"),
    ]  # fmt: skip


def test_re_registration_handle_and_earlier_expiry():
    after = {
        "domain": "a.test",
        "handle": "H2",
        "registration_date": utc(2026, 3, 1),
        "expiration_date": utc(2026, 4, 1),
        "dnssec": None,
    }
    assert changes([{"domain": "a.test", "dnssec": True}], [after]) == [
        # a re-registration: its other changes are consequences, not a transfer or renewal
        ("a.test", "re_registered", "handle", "change", "H1", "H2"),
        (
            "a.test",
            "re_registered",
            "registration_date",
            "change",
            "2010-05-01T00:00:00Z",
            "2026-03-01T00:00:00Z",
        ),
        (
            "a.test",
            "re_registered",
            "expiration_date",
            "change",
            "2026-05-01T00:00:00Z",
            "2026-04-01T00:00:00Z",
        ),
        # DNSSEC unknown in the later answer: missing information, not "disabled"
        ("a.test", "value_missing", "dnssec", "error", "true", None),
    ]
    handle_only = {"domain": "a.test", "handle": "H2"}
    assert changes([{"domain": "a.test"}], [handle_only]) == [
        ("a.test", "handle_changed", "handle", "change", "H1", "H2"),
    ]
    corrected = {
        "domain": "a.test",
        "registration_date": utc(2010, 4, 30),
        "expiration_date": utc(2026, 4, 30),
    }
    assert changes([{"domain": "a.test"}], [corrected]) == [
        ("a.test", "registration_date_changed", "registration_date", "change", "2010-05-01T00:00:00Z", "2010-04-30T00:00:00Z"),
        ("a.test", "expiration_earlier", "expiration_date", "change", "2026-05-01T00:00:00Z", "2026-04-30T00:00:00Z"),
    ]  # fmt: skip


def test_status_and_nameserver_sets_ignore_order_and_case():
    before = {"domain": "a.test", "rdap_status": ["active", "client hold"]}
    after = {
        "domain": "a.test",
        "rdap_status": ["redemption period", "Active"],
        "nameservers": ["NS2.GANDI.NET.", "ns1.gandi.net"],
    }
    d = diff_domains(frame([before]), frame([after]))
    assert d.select("change", "field", "before", "after", "added", "removed").rows() == [
        ("status_changed", "rdap_status", "active, client hold", "active, redemption period",
         ["redemption period"], ["client hold"]),
    ]  # fmt: skip


def test_nameserver_moves_within_and_between_providers():
    same = {"domain": "a.test", "nameservers": ["ns1.gandi.net", "ns3.gandi.net"]}
    moved = {"domain": "b.test", "nameservers": ["dana.ns.cloudflare.com", "kai.ns.cloudflare.com"]}
    uk = {"domain": "c.test", "nameservers": ["ns1.example.co.uk"]}
    uk_after = {"domain": "c.test", "nameservers": ["ns2.example.co.uk"]}
    d = diff_domains(
        frame([{"domain": "a.test"}, {"domain": "b.test"}, uk]), frame([same, moved, uk_after])
    )
    assert d.select("domain", "change", "added", "removed").rows() == [
        ("a.test", "nameservers_changed", ["ns3.gandi.net"], ["ns2.gandi.net"]),
        ("b.test", "ns_provider_changed", ["dana.ns.cloudflare.com", "kai.ns.cloudflare.com"],
         ["ns1.gandi.net", "ns2.gandi.net"]),
        # example.co.uk is the provider (the Public Suffix List), not co.uk
        ("c.test", "nameservers_changed", ["ns2.example.co.uk"], ["ns1.example.co.uk"]),
    ]  # fmt: skip
    assert nameserver_provider("NS1.Example.CO.UK.") == "example.co.uk"


def test_presence_and_errors_are_kept_apart_from_changes():
    before = [
        {"domain": "gone.test"},
        {"domain": "new.test", "outcome": "not_found"},
        {"domain": "flaky.test"},
        {"domain": "back.test", "outcome": "error", "error_kind": "timeout"},
        {"domain": "down.test", "outcome": "error", "error_kind": "timeout"},
        {"domain": "dropped-from-list.test"},
    ]
    after = [
        {"domain": "gone.test", "outcome": "not_found"},
        {"domain": "new.test"},
        {
            "domain": "flaky.test",
            "outcome": "error",
            "error_kind": "rate_limited",
            "registrar": None,
        },
        {"domain": "back.test", "registrar": "OVH sas"},
        {"domain": "down.test", "outcome": "error", "error_kind": "connection_error"},
        {"domain": "added-to-list.test"},
    ]
    assert changes(before, after) == [
        ("added-to-list.test", "not_looked_up_before", "outcome", "presence", None, "ok"),
        # recovered: the registrar is not compared with an error row (no transfer row)
        ("back.test", "recovered", "outcome", "error", "error: timeout", "ok"),
        ("down.test", "unreachable", "outcome", "error", "error: timeout", "error: connection_error"),
        ("dropped-from-list.test", "not_looked_up_after", "outcome", "presence", "ok", None),
        ("flaky.test", "became_unreachable", "outcome", "error", "ok", "error: rate_limited"),
        ("gone.test", "disappeared", "outcome", "presence", "ok", "not_found"),
        ("new.test", "appeared", "outcome", "presence", "not_found", "ok"),
    ]  # fmt: skip


def test_a_missing_registrar_is_not_a_transfer():
    after = {"domain": "a.test", "registrar": None, "registrar_iana_id": None}
    rows = changes([{"domain": "a.test"}], [after])
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("value_missing", "registrar", "error"),
        ("value_missing", "registrar_iana_id", "error"),
    ]


def test_repeated_and_unusable_rows():
    before = frame([{"domain": "a.test"}, {"domain": "a.test", "registrar": "X"}, {"domain": None}])
    after = frame([{"domain": "a.test", "registrar": "OVH sas"}])
    d = diff_domains(before, after)
    # the first row of a repeated name counts; a row without a domain is left out
    assert d.select("change", "before", "after").rows() == [("transfer", "Gandi SAS", "OVH sas")]
    with pytest.raises(ValueError, match="not a domains frame"):
        diff_domains(before.drop("registrar"), after)


def test_every_kind_has_a_category():
    assert set(CHANGE_KINDS.values()) == {"change", "presence", "error"}


def test_expiry_outcomes_follow_each_name_due_by_the_later_snapshot():
    due = {"expiration_date": utc(2026, 2, 1)}
    before = frame(
        [
            {"domain": "renewed.test", **due},
            {"domain": "dropped.test", **due},
            {"domain": "redemption.test", **due},
            {"domain": "rereg.test", **due},
            {"domain": "waiting.test", **due},
            {"domain": "failed.test", **due},
            {"domain": "later.test", "expiration_date": utc(2027, 1, 1)},  # not due yet
            {"domain": "nf.test", "outcome": "not_found", **due},  # not registered then
        ]
    )
    after = frame(
        [
            {"domain": "renewed.test", "expiration_date": utc(2027, 2, 1)},
            {"domain": "dropped.test", "outcome": "not_found"},
            {"domain": "redemption.test", "rdap_status": ["redemption period"], **due},
            {"domain": "rereg.test", "registration_date": utc(2026, 3, 1), "expiration_date": utc(2027, 3, 1)},
            {"domain": "waiting.test", **due},
            {"domain": "failed.test", "outcome": "error", "error_kind": "timeout"},
        ]
    )  # fmt: skip
    out = expiry_outcomes(before, after, until=utc(2026, 6, 1))
    assert dict(out.select("domain", "fate").rows()) == {
        "renewed.test": "renewed",
        "dropped.test": "dropped",
        "redemption.test": "redemption",
        "rereg.test": "re_registered",
        "waiting.test": "unchanged",
        "failed.test": "unknown",
    }
    assert out.filter(pl.col("domain") == "renewed.test")["new_expiration_date"].item() == utc(
        2027, 2, 1
    )
