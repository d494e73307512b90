"""Tests for rdaplab.frames: fixed schemas, fan-out, parse errors, per-domain details."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
from datetime import datetime, timezone

import msgspec
import polars as pl
import pytest

from rdaplab._data import responses_dir
from rdaplab.frames import (
    ATTEMPTS_SCHEMA,
    DOMAINS_SCHEMA,
    ENTITIES_SCHEMA,
    EVENTS_SCHEMA,
    NAMESERVERS_SCHEMA,
    REDACTIONS_SCHEMA,
    Frames,
    build_frames,
    empty,
    normalize_result,
    normalize_results,
)
from rdaplab.models import Attempt, NameResult, Response
from rdaplab.rdap.decode import ParseError, decode_json

T0 = datetime(2024, 7, 29, 17, 30, tzinfo=timezone.utc)
UTC_US = pl.Datetime("us", "UTC")


def body(rel: str) -> bytes:
    return (responses_dir() / rel).read_bytes()


def response(key: str, raw: bytes, depth: int = 0, status: int = 200) -> Response:
    return Response(
        query_kind="domain",
        query=key,
        depth=depth,
        url=f"https://rdap.example/{depth}/domain/{key}",
        final_url=f"https://rdap.example/{depth}/domain/{key}",
        status=status,
        headers={"content-type": "application/rdap+json"},
        body=raw,
        fetched_at=T0,
        latency_ms=10.0,
    )


def ok(key: str, *bodies: bytes, **kw: object) -> NameResult:
    responses = [response(key, b, depth) for depth, b in enumerate(bodies)]
    base: dict[str, object] = {
        "tld": key.rsplit(".", 1)[-1],
        "registry_url": "https://rdap.example/",
        "http_status": 200,
        "attempts": len(bodies),
        "latency_ms": 10.0 * len(bodies),
        "fetched_at": T0,
        "responses": responses,
    }
    base.update(kw)
    return NameResult("domain", key, "ok", **base)  # type: ignore[arg-type]


def google() -> NameResult:
    return ok(
        "google.com",
        body("verisign/google.com-2024.json"),
        body("markmonitor/GOOGLE.COM-2024.json"),
        registrar_url="https://rdap.markmonitor.com/rdap/domain/GOOGLE.COM",
        referral_status="followed",
    )


def assert_schemas(frames: Frames) -> None:
    assert frames.domains.schema == DOMAINS_SCHEMA
    assert frames.events.schema == EVENTS_SCHEMA
    assert frames.entities.schema == ENTITIES_SCHEMA
    assert frames.nameservers.schema == NAMESERVERS_SCHEMA
    assert frames.redactions.schema == REDACTIONS_SCHEMA


# --------------------------------------------------------------------------- schemas


def test_domains_schema_contract() -> None:
    assert list(DOMAINS_SCHEMA.items()) == [
        ("query", pl.String()),
        ("domain", pl.String()),
        ("unicode_name", pl.String()),
        ("outcome", pl.String()),
        ("error_kind", pl.String()),
        ("error_detail", pl.String()),
        ("tld", pl.String()),
        ("registry_url", pl.String()),
        ("handle", pl.String()),
        ("registrar", pl.String()),
        ("registrar_iana_id", pl.String()),
        ("registrar_url", pl.String()),
        ("referral_status", pl.String()),
        ("registration_date", UTC_US),
        ("registrar_registration_date", UTC_US),
        ("expiration_date", UTC_US),
        ("last_changed_date", UTC_US),
        ("rdap_status", pl.List(pl.String())),
        ("nameservers", pl.List(pl.String())),
        ("dnssec", pl.Boolean()),
        ("http_status", pl.Int16()),
        ("attempts", pl.Int32()),
        ("latency_ms", pl.Float64()),
        ("from_cache", pl.Boolean()),
        ("fetched_at", UTC_US),
    ]


def test_detail_schemas_contract() -> None:
    keys = ["query_kind", "key"]  # every detail frame ends with whose row it is
    assert EVENTS_SCHEMA.names() == [
        "domain", "source", "action", "date", "date_text", "actor", *keys,
    ]  # fmt: skip
    assert EVENTS_SCHEMA["date"] == UTC_US
    assert EVENTS_SCHEMA["date_text"] == pl.String()
    assert ENTITIES_SCHEMA.names() == [
        "domain",
        "source",
        "handle",
        "role",
        "parent_handle",
        "name",
        "organization",
        "email",
        "phone",
        "country",
        "name_redacted",
        "organization_redacted",
        "email_redacted",
        "phone_redacted",
        "country_redacted",
        "pii_redacted",
        "kind",
        "address",
        "address_redacted",
        "privacy_proxy",
        *keys,
    ]
    assert all(ENTITIES_SCHEMA[c] == pl.Boolean() for c in ENTITIES_SCHEMA if "redacted" in c)
    assert ENTITIES_SCHEMA["address"] == pl.String()
    assert ENTITIES_SCHEMA["privacy_proxy"] == pl.Boolean()
    assert list(NAMESERVERS_SCHEMA.items()) == [
        ("domain", pl.String()),
        ("source", pl.String()),
        ("nameserver", pl.String()),
        ("ipv4", pl.List(pl.String())),
        ("ipv6", pl.List(pl.String())),
        ("query_kind", pl.String()),
        ("key", pl.String()),
    ]
    assert REDACTIONS_SCHEMA.names() == [
        "domain", "source", "name", "method", "path", "reason", *keys
    ]  # fmt: skip


def test_attempts_schema_mirrors_attempt_model() -> None:
    assert ATTEMPTS_SCHEMA.names() == [f.name for f in dataclasses.fields(Attempt)]
    assert ATTEMPTS_SCHEMA["started_at"] == UTC_US
    assert ATTEMPTS_SCHEMA["status"] == pl.Int16()
    assert ATTEMPTS_SCHEMA["bytes"] == pl.Int64()
    assert ATTEMPTS_SCHEMA["attempt"] == pl.Int16()
    assert ATTEMPTS_SCHEMA["concurrency_limit"] == pl.Int32()
    assert ATTEMPTS_SCHEMA["throttled"] == pl.Boolean()


def test_empty_helper() -> None:
    for schema in (DOMAINS_SCHEMA, ATTEMPTS_SCHEMA, ENTITIES_SCHEMA):
        frame = empty(schema)
        assert frame.height == 0 and frame.schema == schema


def test_empty_input_keeps_schemas() -> None:
    frames = build_frames([], {})
    assert_schemas(frames)
    assert frames.domains.height == 0


def test_all_error_input_keeps_schemas() -> None:
    results = {
        "bad name": NameResult(
            "domain", "bad name", "error", "invalid_query", "label contains a space"
        ),
        "x.zz": NameResult("domain", "x.zz", "error", "no_rdap_service", "no RDAP for .zz"),
        "gone.org": NameResult(
            "domain",
            "gone.org",
            "not_found",
            http_status=404,
            attempts=1,
            responses=[
                response("gone.org", body("pir/markwatch-nonexistent-7f3kq9.org.json"), status=404)
            ],
        ),
    }
    frames = build_frames([("bad name", "bad name"), ("x.zz", "x.zz"), (3, "gone.org")], results)
    assert_schemas(frames)
    d = frames.domains
    assert d["query"].to_list() == ["bad name", "x.zz", "3"]
    assert d["outcome"].to_list() == ["error", "error", "not_found"]
    assert d["error_kind"].to_list() == ["invalid_query", "no_rdap_service", None]
    assert d["handle"].null_count() == 3
    assert d["rdap_status"].null_count() == 3
    assert d["http_status"].to_list() == [None, None, 404]
    assert frames.events.height == frames.entities.height == frames.nameservers.height == 0


# --------------------------------------------------------------------------- content


def test_google_merge_row() -> None:
    frames = build_frames([("GOOGLE.COM", "google.com")], {"google.com": google()})
    row = frames.domains.row(0, named=True)
    assert row["query"] == "GOOGLE.COM"
    assert row["domain"] == "google.com"
    assert row["outcome"] == "ok"
    assert row["handle"] == "2138514_DOMAIN_COM-VRSN"
    assert row["registrar"] == "MarkMonitor Inc."
    assert row["registrar_iana_id"] == "292"
    assert row["registrar_url"] == "https://rdap.markmonitor.com/rdap/domain/GOOGLE.COM"
    assert row["referral_status"] == "followed"
    # Verisign says 04:00Z, MarkMonitor 07:00:00.000+0000 (hand-checked in both files)
    assert row["registration_date"] == datetime(1997, 9, 15, 4, tzinfo=timezone.utc)
    assert row["registrar_registration_date"] == datetime(1997, 9, 15, 7, tzinfo=timezone.utc)
    assert row["expiration_date"] == datetime(2028, 9, 14, 4, tzinfo=timezone.utc)
    assert row["nameservers"] == [f"ns{i}.google.com" for i in (1, 2, 3, 4)]
    assert row["dnssec"] is False
    assert row["attempts"] == 2
    assert row["fetched_at"] == T0
    assert row["unicode_name"] is None
    sources = frames.events.group_by("source").len().sort("source")
    assert sources.rows() == [("registrar", 4), ("registry", 4)]


def test_registration_dates_by_source() -> None:
    # the real google.com pair of 2021, the registry answer alone, and the registrar's
    # answer behind a registry answer without a registration event
    utc = timezone.utc
    registry = decode_json(body("verisign/google.com-2024.json"))
    registry["events"] = [e for e in registry["events"] if e["eventAction"] != "registration"]
    results = {
        "google.com": ok(
            "google.com",
            body("verisign/GOOGLE.COM-2021.json"),
            body("markmonitor/google.com-2021.json"),
            referral_status="followed",
        ),
        "alone.com": ok("alone.com", body("verisign/google.com-2024.json")),
        "filled.com": ok(
            "filled.com",
            msgspec.json.encode(registry),
            body("markmonitor/GOOGLE.COM-2024.json"),
            referral_status="followed",
        ),
    }
    rows = [(k, k) for k in results]
    for tolerant in (False, True):  # raw bodies (fast path), then decoded documents
        if tolerant:
            for result in results.values():
                for resp in result.responses:
                    resp.document = decode_json(resp.body)
        d = build_frames(rows, results).domains
        got = d.select("domain", "registration_date", "registrar_registration_date").rows()
        assert got == [
            ("google.com", datetime(1997, 9, 15, 4, tzinfo=utc), datetime(1997, 9, 15, 7, tzinfo=utc)),
            ("alone.com", datetime(1997, 9, 15, 4, tzinfo=utc), None),
            # the registry serves no registration event: the registrar's date, in both
            ("filled.com", datetime(1997, 9, 15, 7, tzinfo=utc), datetime(1997, 9, 15, 7, tzinfo=utc)),
        ]  # fmt: skip


def test_unparseable_event_date_keeps_its_text() -> None:
    doc = decode_json(body("verisign/google.com-2024.json"))
    doc["events"] = [
        {"eventAction": "registration", "eventDate": "1997-09-15T04:00:60Z"},  # leap second
        {"eventAction": "expiration", "eventDate": " 2028-02-30T04:00:00Z "},  # no such day
        {"eventAction": "last changed", "eventDate": 20190909},  # a number
        {"eventAction": "last update of RDAP database", "eventDate": None},
    ]
    results = {"google.com": ok("google.com", msgspec.json.encode(doc))}
    frames = build_frames([("google.com", "google.com")], results)
    ev = frames.events.select("action", "date", "date_text").rows()
    assert ev == [
        ("registration", datetime(1997, 9, 15, 4, 0, 59, 999999, tzinfo=timezone.utc), None),
        ("expiration", None, "2028-02-30T04:00:00Z"),
        ("last changed", None, "20190909"),
        ("last update of RDAP database", None, None),  # nothing served: nothing to keep
    ]
    row = frames.domains.row(0, named=True)
    assert row["registration_date"] == datetime(1997, 9, 15, 4, 0, 59, 999999, tzinfo=timezone.utc)
    assert row["expiration_date"] is None and row["last_changed_date"] is None


def test_unicode_name_from_record_else_result() -> None:
    results = {
        "google.ai": ok("google.ai", body("identity-digital/google.ai.json")),
        "xn--bcher-kva.example": NameResult(
            "domain", "xn--bcher-kva.example", "not_found", unicode_name="bücher.example"
        ),
    }
    frames = build_frames(
        [("google.ai", "google.ai"), ("bücher.example", "xn--bcher-kva.example")], results
    )
    assert frames.domains["unicode_name"].to_list() == ["google.ai", "bücher.example"]


def test_duplicates_fan_out_in_input_order_details_once() -> None:
    results = {
        "google.com": google(),
        "bbc.co.uk": ok("bbc.co.uk", body("nominet/bbc.co.uk.json")),
    }
    rows = [
        ("google.com", "google.com"),
        ("BBC.CO.UK", "bbc.co.uk"),
        ("Google.com.", "google.com"),
        ("bbc.co.uk", "bbc.co.uk"),
        ("google.com", "google.com"),
    ]
    frames = build_frames(rows, results)
    assert_schemas(frames)
    d = frames.domains
    assert d["query"].to_list() == [q for q, _ in rows]
    assert d["domain"].to_list() == [k for _, k in rows]
    assert d["handle"].to_list() == ["2138514_DOMAIN_COM-VRSN", "D_7090031-UK"] * 2 + [
        "2138514_DOMAIN_COM-VRSN"
    ]
    # detail frames: per distinct domain, not per input row
    ev = frames.events.group_by("domain").len().sort("domain").rows()
    assert ev == [("bbc.co.uk", 4), ("google.com", 8)]
    ns = frames.nameservers.filter(pl.col("domain") == "bbc.co.uk")
    assert ns.height == 8
    assert ns.row(0) == (
        "bbc.co.uk",
        "registry",
        "ddns0.bbc.co.uk",
        ["148.163.199.1"],
        ["2607:f740:e04e::1"],
        "domain",
        "bbc.co.uk",
    )
    assert frames.redactions["domain"].to_list() == ["bbc.co.uk"] * 12
    ent = frames.entities.filter(
        (pl.col("domain") == "bbc.co.uk") & (pl.col("role") == "registrant")
    )
    assert ent.height == 1
    assert ent.row(0, named=True)["email_redacted"] is True
    google_entities = frames.entities.filter(pl.col("domain") == "google.com")
    assert google_entities.height == 7
    abuse = google_entities.filter((pl.col("role") == "abuse") & (pl.col("source") == "registry"))
    assert abuse["parent_handle"].to_list() == ["292"]


def test_broken_stored_body_becomes_parse_error() -> None:
    results = {
        "broken.com": ok("broken.com", b'{"objectClassName": "domain", "handle": '),
        "array.com": ok("array.com", b"[]"),
        "google.com": google(),
    }
    rows = [("broken.com", "broken.com"), ("google.com", "google.com"), ("array.com", "array.com")]
    frames = build_frames(rows, results)
    assert_schemas(frames)
    d = frames.domains
    assert d["outcome"].to_list() == ["error", "ok", "error"]
    assert d["error_kind"].to_list() == ["parse_error", None, "parse_error"]
    detail = d["error_detail"].to_list()
    assert detail[0].startswith("registry answer: invalid JSON")
    assert "not an object" in detail[2]
    assert d["http_status"].to_list() == [200, 200, 200]  # transport facts kept
    assert set(frames.events["domain"].to_list()) == {"google.com"}


def test_broken_registrar_body_keeps_registry_data() -> None:
    result = ok(
        "google.com",
        body("verisign/google.com-2024.json"),
        b"<html>oops</html>",
        referral_status="followed",
    )
    frames = build_frames([("google.com", "google.com")], {"google.com": result})
    row = frames.domains.row(0, named=True)
    assert row["outcome"] == "ok"
    assert row["handle"] == "2138514_DOMAIN_COM-VRSN"
    assert row["referral_status"] == "referral_failed"
    assert set(frames.entities["source"].to_list()) == {"registry"}


def test_deepest_successful_referral_is_the_registrar_doc() -> None:
    registry = response("abc.xyz", body("centralnic/abc.xyz.json"), depth=0)
    failed = response("abc.xyz", b'{"errorCode": 404}', depth=2, status=404)
    registrar = response("abc.xyz", body("markmonitor/abc.xyz.json"), depth=1)
    result = NameResult("domain", "abc.xyz", "ok", responses=[registry, registrar, failed])
    frames = build_frames([("abc.xyz", "abc.xyz")], {"abc.xyz": result})
    sources = set(frames.entities["source"].to_list())
    assert sources == {"registry", "registrar"}
    # registry values win: CentralNic's expiration, not MarkMonitor's
    assert frames.domains["expiration_date"].to_list() == [
        datetime(2027, 3, 20, 23, 59, 59, tzinfo=timezone.utc)
    ]


def test_missing_result_is_a_caller_bug() -> None:
    with pytest.raises(KeyError, match="nope"):
        build_frames([("nope", "nope")], {})


# --------------------------------------------------------------------------- fast path guard
# normalize_result decodes bodies on the typed fast path; a Response carrying an already
# decoded ``document`` goes through the tolerant parser. Both must give the same frames,
# and the column-wise build_frames must match a plain row-by-row construction.


def _corpus_results(*, tolerant: bool) -> dict[str, NameResult]:
    files = sorted(responses_dir().rglob("*.json"))
    referral = body("markmonitor/GOOGLE.COM-2024.json")
    out: dict[str, NameResult] = {}
    for i, path in enumerate(files):
        raw = path.read_bytes()
        key = f"d{i}.test"
        # every other answer also gets a registrar answer (or the broken one, as one)
        result = ok(key, raw, referral) if i % 2 else ok(key, raw)
        if i % 7 == 0:
            result = ok(key, referral, raw, referral_status="followed")
        if tolerant:
            for resp in result.responses:
                # invalid bodies take the same route either way
                with contextlib.suppress(ParseError):
                    resp.document = decode_json(resp.body)
        out[key] = result
    out["nf.test"] = NameResult("domain", "nf.test", "not_found", http_status=404)
    return out


def _reference_frames(
    rows: list[tuple[object, str]], results: dict[str, NameResult]
) -> dict[str, pl.DataFrame]:
    """The frames built row by row from dicts (slow, obviously right)."""
    d: list[dict[str, object]] = []
    details: dict[str, list[dict[str, object]]] = {
        "events": [], "entities": [], "nameservers": [], "redactions": []
    }  # fmt: skip
    seen: set[str] = set()
    for query, key in rows:
        r = results[key]
        n = normalize_result(r)
        rec = n.record
        row: dict[str, object] = {
            "query": None if query is None else str(query),
            "domain": None if r.error_kind == "invalid_query" else r.key,
            "unicode_name": rec.unicode_name if rec and rec.unicode_name else r.unicode_name,
            "outcome": n.outcome,
            "error_kind": n.error_kind,
            "error_detail": n.error_detail,
            "tld": r.tld,
            "registry_url": r.registry_url,
            "registrar_url": r.registrar_url,
            "referral_status": n.referral_status,
            "http_status": r.http_status,
            "attempts": r.attempts,
            "latency_ms": r.latency_ms,
            "from_cache": r.from_cache,
            "fetched_at": r.fetched_at,
        }
        for name in (
            "handle", "registrar", "registrar_iana_id", "registration_date",
            "registrar_registration_date", "expiration_date", "last_changed_date", "rdap_status", "nameservers", "dnssec",
        ):  # fmt: skip
            row[name] = getattr(rec, name) if rec is not None else None
        d.append(row)
        if rec is None or r.key in seen:
            continue
        seen.add(r.key)
        for table, items in (
            ("events", rec.events),
            ("entities", rec.entities),
            ("nameservers", rec.nameserver_rows),
            ("redactions", rec.redactions),
        ):
            for item in items:
                row = {"domain": r.key, **dataclasses.asdict(item)}
                if table == "entities":
                    row["pii_redacted"] = False  # only redact_frames sets it
                    row.setdefault("kind", None)
                row["query_kind"], row["key"] = "domain", r.key
                details[table].append(row)
    schemas = {
        "events": EVENTS_SCHEMA,
        "entities": ENTITIES_SCHEMA,
        "nameservers": NAMESERVERS_SCHEMA,
        "redactions": REDACTIONS_SCHEMA,
    }
    out = {"domains": pl.DataFrame(d, schema=DOMAINS_SCHEMA, orient="row")}
    for table, items in details.items():
        out[table] = pl.DataFrame(items, schema=schemas[table])
    return out


def test_fast_and_tolerant_paths_give_the_same_frames() -> None:
    fast, tolerant = _corpus_results(tolerant=False), _corpus_results(tolerant=True)
    rows: list[tuple[object, str]] = [(k.upper(), k) for k in fast]
    rows += [(None, k) for k in list(fast)[::3]]  # duplicates: details once per domain
    got = build_frames(rows, fast)
    want = build_frames(rows, tolerant)
    assert got.domains["registrar"].drop_nulls().len() > 20  # the corpus really parsed
    for table in ("domains", "events", "entities", "nameservers", "redactions"):
        assert getattr(got, table).equals(getattr(want, table)), table


def test_column_wise_frames_equal_a_row_wise_build() -> None:
    results = _corpus_results(tolerant=False)
    rows: list[tuple[object, str]] = [(k, k) for k in results] + [(1, "d3.test")]
    got = build_frames(rows, results, normalize_results(results.values()))
    want = _reference_frames(rows, results)
    for table, frame in want.items():
        assert getattr(got, table).equals(frame), table
    assert got.events.height > 100 and got.entities.height > 100


def test_normalize_results_keeps_gc_state_and_matches_one_by_one() -> None:
    results = _corpus_results(tolerant=False)
    was = gc.isenabled()
    batch = normalize_results(results.values())
    assert gc.isenabled() == was
    assert list(batch) == list(results)
    for key, result in results.items():
        assert repr(batch[key]) == repr(normalize_result(result))
