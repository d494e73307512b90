"""Privacy controls: redaction in frames, data minimization, strict bodies, retention, audit."""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from rdaplab._data import responses_dir
from rdaplab.batch.privacy import check_privacy
from rdaplab.cli import main
from rdaplab.errors import CacheError, InputError
from rdaplab.frames import ENTITIES_SCHEMA, Frames, build_frames
from rdaplab.frames.redact import redact_frames, select_fields
from rdaplab.models import NameResult, Response
from rdaplab.rdap.pii import (
    body_has_pii,
    entity_kinds,
    is_individual,
    kinds_from_results,
    strip_pii_from_body,
)
from rdaplab.store import Cache
from rdaplab.store.schema import AUDIT_SCHEMA, MIGRATIONS, SCHEMA_VERSION

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)
ARIN_REV = "arin/domain-152.112.149.in-addr.arpa.json"


def body(rel: str) -> bytes:
    return (responses_dir() / rel).read_bytes()


def response(key: str, raw: bytes, depth: int = 0, **kw: object) -> Response:
    args: dict[str, object] = {
        "query_kind": "domain",
        "query": key,
        "depth": depth,
        "url": f"https://rdap.example/{depth}/domain/{key}",
        "final_url": f"https://rdap.example/{depth}/domain/{key}",
        "status": 200,
        "headers": {"content-type": "application/rdap+json"},
        "body": raw,
        "fetched_at": NOW,
        "latency_ms": 10.0,
    }
    args.update(kw)
    return Response(**args)  # type: ignore[arg-type]


def ok(key: str, *bodies: bytes, kind: str = "domain") -> NameResult:
    responses = [response(key, b, depth) for depth, b in enumerate(bodies)]
    return NameResult(kind, key, "ok", http_status=200, fetched_at=NOW, responses=responses)


@pytest.fixture(scope="module")
def results() -> dict[str, NameResult]:
    return {
        "afnic.fr": ok("afnic.fr", body("afnic/afnic.fr.json")),
        "152.112.149.in-addr.arpa": ok("152.112.149.in-addr.arpa", body(ARIN_REV)),
        "google.com": ok(
            "google.com",
            body("verisign/google.com-2024.json"),
            body("markmonitor/GOOGLE.COM-2024.json"),
        ),
        "lemonde.fr": ok("lemonde.fr", body("afnic/lemonde.fr.json")),
        "microsoft.click": ok("microsoft.click", body("uniregistry/microsoft.click.json")),
    }


@pytest.fixture(scope="module")
def frames(results: dict[str, NameResult]) -> Frames:
    return build_frames([(k, k) for k in results], results)


def entity(df: pl.DataFrame, domain: str, handle: str | None, role: str) -> dict[str, object]:
    handle_cond = pl.col("handle").is_null() if handle is None else pl.col("handle") == handle
    rows = df.filter((pl.col("domain") == domain) & handle_cond & (pl.col("role") == role))
    assert rows.height == 1, (domain, handle, role, rows)
    return rows.row(0, named=True)


# -- deciding who is an individual --------------------------------------------------------


def test_is_individual_rules() -> None:
    person: dict[str, Any] = {"name": "Jane Doe", "organization": None}
    assert is_individual(kind="individual", roles=["technical"], **person)
    assert not is_individual(kind="org", roles=["registrant"], **person)
    assert not is_individual(kind="individual", roles=["registrar"], **person)
    assert not is_individual(kind=None, roles=["technical"], under_registrar=True, **person)
    assert is_individual(kind="individual", roles=["abuse"], **person)
    assert not is_individual(kind=None, roles=["abuse"], **person)
    assert is_individual(kind=None, roles=["technical"], **person)  # unknown: privacy first
    assert not is_individual(kind=None, roles=["registrant"], name=None, organization="X AG")
    assert not is_individual(kind=None, roles=["admin"], name="ACME", organization="acme")
    assert not is_individual(kind=None, roles=["registrant"], name="Google LLC", organization=None)
    assert is_individual(kind=None, roles=["registrant"], name=None, organization=None)


def test_entity_kinds_from_a_real_body_includes_nested_entities() -> None:
    kinds = entity_kinds(json.loads(body(ARIN_REV)))
    assert kinds["FFH1-ARIN"] == "individual"  # nested under the registrant org
    assert kinds["ARINL"] == "org"
    assert kinds["KLANG2-ARIN"] == "group"


# -- redact_frames ------------------------------------------------------------------------


def test_redaction_blanks_individuals_and_keeps_organizations(
    results: dict[str, NameResult], frames: Frames
) -> None:
    red = redact_frames(frames, kinds=kinds_from_results(results.values()))
    ent = red.entities
    assert ent.schema == ENTITIES_SCHEMA and ent.height == frames.entities.height
    # ARIN: kind=individual POC nested under an org -> blanked, org and role accounts kept
    frank = entity(ent, "152.112.149.in-addr.arpa", "FFH1-ARIN", "dns")
    assert (frank["name"], frank["email"], frank["phone"]) == (None, None, None)
    klang = entity(ent, "152.112.149.in-addr.arpa", "KLANG2-ARIN", "routing")
    assert klang["name"] == "KLANG-ROLE" and klang["email"] == "krislangers@yahoo.com"
    # AFNIC: no kind; a person's name with an organization -> personal; org stays
    pick = entity(ent, "afnic.fr", "JP-FRNIC", "technical")
    assert (pick["name"], pick["email"], pick["phone"], pick["address"]) == (None,) * 4
    assert pick["organization"] == "AFNIC" and pick["country"] == "FR"
    assert entity(frames.entities, "afnic.fr", "JP-FRNIC", "technical")["address"]
    # registrar data always stays
    rar = entity(ent, "afnic.fr", "RAR939-FRNIC", "registrar")
    assert rar["name"] == "Registry Operations" and rar["email"] == "support@afnic.fr"
    assert rar["address"] and "rue Stephenson" in rar["address"]
    # an abuse contact nested under the registrar stays (handle-less row)
    abuse = ent.filter((pl.col("domain") == "google.com") & (pl.col("role") == "abuse"))
    assert abuse.height == 2  # registry and registrar answers
    assert abuse["email"].to_list() == ["abusecomplaints@markmonitor.com"] * 2
    # name equal to organization (casefold): an organization
    lemonde = entity(ent, "lemonde.fr", "SEDM254-FRNIC", "registrant")
    assert lemonde["name"] == "SOCIETE EDITRICE du monde"
    # the server's redaction flags are untouched
    flags = [c for c in ENTITIES_SCHEMA if c.endswith("_redacted") and c != "pii_redacted"]
    assert ent.select(flags).equals(frames.entities.select(flags))
    # ... and ours says which rows rdaplab blanked
    assert frank["pii_redacted"] is True and rar["pii_redacted"] is False
    assert not frames.entities["pii_redacted"].any()
    # other frames unchanged; the input frames unchanged
    assert red.domains.equals(frames.domains) and red.events.equals(frames.events)
    assert entity(frames.entities, "afnic.fr", "JP-FRNIC", "technical")["name"] is not None


def test_redaction_is_per_entity_and_without_kinds_is_conservative(frames: Frames) -> None:
    red = redact_frames(frames)  # no kinds: heuristics only
    ent = red.entities
    # both role rows of one person are blanked
    rows = ent.filter(pl.col("handle") == "FFH1-ARIN")
    assert rows.height == 2 and rows["email"].null_count() == 2
    # ARIN role accounts (fn == org) still kept without kinds
    assert entity(ent, "152.112.149.in-addr.arpa", "ARINL3-ARIN", "abuse")["email"]
    # an individual never leaks through another of its rows
    blanked = frames.entities.filter(pl.col("name").is_not_null()).join(
        ent.filter(pl.col("name").is_null()), on=["domain", "source", "handle"], how="semi"
    )
    assert blanked.height > 5
    for domain, source, handle in blanked.select("domain", "source", "handle").iter_rows():
        rows = ent.filter(
            (pl.col("domain") == domain)
            & (pl.col("source") == source)
            & (pl.col("handle") == handle)
        )
        assert rows["name"].null_count() == rows["email"].null_count() == rows.height


def test_redaction_opt_out_and_empty(frames: Frames) -> None:
    assert redact_frames(frames, redact_pii=False) is frames
    empty = build_frames([], {})
    assert redact_frames(empty).entities.schema == ENTITIES_SCHEMA


# -- the entities frame's own `kind` column -----------------------------------------------


def entities_frame(rows: list[dict[str, object]], *, with_kind: bool = True) -> pl.DataFrame:
    """An entities frame with the contract's columns, plus (or minus) a ``kind`` column."""
    schema = dict(ENTITIES_SCHEMA)
    schema.pop("kind", None)
    if with_kind:
        schema["kind"] = pl.Utf8()
    base: dict[str, object] = {
        c: (False if dt == pl.Boolean() else None) for c, dt in schema.items()
    }
    base.update(domain="example.com", source="registry")
    return pl.DataFrame([{**base, **r} for r in rows], schema=schema)


def blanked(frames: Frames, entities: pl.DataFrame, **kw: Any) -> list[bool]:
    """For each row: were name, email and phone blanked?"""
    out = redact_frames(dataclasses.replace(frames, entities=entities), **kw).entities
    assert out.columns == entities.columns and out.height == entities.height
    return [row["name"] is None and row["email"] is None for row in out.iter_rows(named=True)]


PERSON_LIKE = {"name": "Jane Doe", "email": "jane@example.com", "phone": "+1.5551234"}
ORG_LIKE = {"name": "Hosting Example GmbH", "email": "noc@example.com", "phone": "+1.5550000"}


def test_kind_column_decides_over_the_name_heuristics(frames: Frames) -> None:
    rows: list[dict[str, object]] = [
        # an organization whose name reads like a person: kept because its jCard says org
        {"handle": "O1", "role": "registrant", "kind": "org", **PERSON_LIKE},
        # a person whose name reads like a company: blanked because the jCard says so
        {"handle": "I1", "role": "registrant", "kind": "individual", **ORG_LIKE},
        # group and location kinds, and case/whitespace as served, are not personal
        {"handle": "G1", "role": "technical", "kind": "group", **PERSON_LIKE},
        {"handle": "L1", "role": "technical", "kind": " Location ", **PERSON_LIKE},
        {"handle": "D1", "role": "technical", "kind": "device", **PERSON_LIKE},
        # no kind, or one we do not know: the heuristics of is_individual, as before
        {"handle": "N1", "role": "technical", "kind": None, **PERSON_LIKE},
        {"handle": "N2", "role": "technical", "kind": None, **ORG_LIKE},
        {"handle": "X1", "role": "technical", "kind": "x-robot", **PERSON_LIKE},
        {"handle": "N3", "role": "abuse", "kind": "", **PERSON_LIKE},  # role account
        # an individual abuse contact is personal; registrar data stays, whatever the kind
        {"handle": "A1", "role": "abuse", "kind": "individual", **PERSON_LIKE},
        {"handle": "R1", "role": "registrar", "kind": "individual", **PERSON_LIKE},
        {"handle": None, "parent_handle": "R1", "role": "abuse", "kind": "individual",
         **PERSON_LIKE},
    ]  # fmt: skip
    got = blanked(frames, entities_frame(rows))
    labels = [f"{r['handle']}/{r['role']}" for r in rows]
    assert dict(zip(labels, got, strict=True)) == {
        "O1/registrant": False,
        "I1/registrant": True,
        "G1/technical": False,
        "L1/technical": False,
        "D1/technical": False,
        "N1/technical": True,
        "N2/technical": False,
        "X1/technical": True,
        "N3/abuse": False,
        "A1/abuse": True,
        "R1/registrar": False,
        "None/abuse": False,
    }
    # the same rows without the column: the old guesses (name heuristics only)
    no_kind = blanked(frames, entities_frame(rows, with_kind=False))
    assert no_kind[:2] == [True, False]  # the person-like org blanked, the GmbH person kept


def test_kind_column_is_one_decision_per_entity(frames: Frames) -> None:
    # three role rows of one entity; the kind on any of them speaks for all of them
    rows: list[dict[str, object]] = [
        {"handle": "P1", "role": "abuse", "kind": None, **PERSON_LIKE},
        {"handle": "P1", "role": "technical", "kind": "individual", **PERSON_LIKE},
        {"handle": "P1", "role": "administrative", "kind": None, **PERSON_LIKE},
    ]
    assert blanked(frames, entities_frame(rows)) == [True, True, True]
    out = redact_frames(dataclasses.replace(frames, entities=entities_frame(rows))).entities
    assert out["pii_redacted"].to_list() == [True, True, True]
    assert out["kind"].to_list() == [None, "individual", None]  # the column itself is kept


def test_kind_column_first_then_the_kinds_mapping(frames: Frames) -> None:
    rows: list[dict[str, object]] = [
        {"handle": "C1", "role": "registrant", "kind": "org", **PERSON_LIKE},
        {"handle": "C2", "role": "registrant", "kind": None, **PERSON_LIKE},
        {"handle": "C3", "role": "registrant", "kind": None, **ORG_LIKE},
    ]
    kinds = {"C1": "individual", "C2": "org", "C3": "Individual"}
    # the row's own kind wins; the mapping fills the rows whose kind is null
    assert blanked(frames, entities_frame(rows), kinds=kinds) == [False, False, True]
    # without the column, the mapping alone decides (the behaviour before the column)
    assert blanked(frames, entities_frame(rows, with_kind=False), kinds=kinds) == [
        True,
        False,
        True,
    ]


def test_kind_column_on_real_answers() -> None:
    # ARIN: Daniel Petsinger (kind individual) is also the abuse contact, which the
    # heuristics take for a role mailbox; "Radio Link Internet" (kind org) reads like
    # neither. AFRINIC: a maintainer group and an org whose names read like nothing.
    files = {
        "192.198.0.0": "arin/ip-192.198.0.0.json",
        "196.11.240.215": "afrinic/ip-196.11.240.215.json",
    }
    # IP network answers, looked up as such (a domain lookup answered with an IP network
    # is a parse_error since objectClassName is checked)
    res = {k: ok(k, body(f), kind="ip") for k, f in files.items()}
    frames = build_frames([(k, k) for k in res], res)
    ent = frames.entities
    assert "kind" in ent.columns  # frames.py fills it from EntityRow.kind
    red = redact_frames(frames).entities
    heuristic = redact_frames(dataclasses.replace(frames, entities=ent.drop("kind"))).entities

    def pii(df: pl.DataFrame, handle: str) -> list[bool]:
        return df.filter(pl.col("handle") == handle)["pii_redacted"].to_list()

    # seven role rows, nested under the registrant and at the top level
    assert pii(red, "PETSI-ARIN") == [True] * 7
    assert pii(heuristic, "PETSI-ARIN") == [False] * 7
    assert red.filter(pl.col("handle") == "PETSI-ARIN")["email"].null_count() == 7
    for handle in ("DP-41", "MBIP-AFRINIC", "ORG-VSA1-AFRINIC"):
        assert not any(pii(red, handle)), handle
        assert all(pii(heuristic, handle)), handle
    # rows with a kind follow it exactly
    for kind, flag in red.select("kind", "pii_redacted").drop_nulls("kind").iter_rows():
        assert flag == (kind == "individual"), kind


# -- select_fields -------------------------------------------------------------------------


def test_select_fields_keeps_join_keys_and_named_columns(frames: Frames) -> None:
    sel = select_fields(frames, ["registrar", "entities.role", "action"])
    assert sel.domains.columns == ["query", "domain", "registrar"]
    assert sel.entities.columns == ["domain", "role", "query_kind", "key"]
    assert sel.events.columns == ["domain", "action", "query_kind", "key"]
    assert sel.nameservers.columns == ["domain", "query_kind", "key"]
    assert sel.networks.columns == ["query", "key"]  # a frame without the named columns
    assert sel.entities.height == frames.entities.height
    assert sel.domains["registrar"].to_list() == frames.domains["registrar"].to_list()


def test_select_fields_rejects_unknown_names(frames: Frames) -> None:
    with pytest.raises(InputError, match="'emial'") as err:
        select_fields(frames, ["email", "emial"])
    assert "known columns" in str(err.value)
    with pytest.raises(InputError, match=r"domains\.email"):
        select_fields(frames, ["domains.email"])
    with pytest.raises(InputError):
        select_fields(frames, "email")
    with pytest.raises(InputError):
        select_fields(frames, [])


def test_check_privacy() -> None:
    assert check_privacy("strict") == "strict"
    with pytest.raises(InputError, match="default, strict"):
        check_privacy("paranoid")


# -- strip_pii_from_body --------------------------------------------------------------------


def _vcards(doc: object) -> dict[str, list[str]]:
    """handle -> property names of every entity in a document."""
    out: dict[str, list[str]] = {}
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "vcardArray" in node:
                out[str(node.get("handle"))] = [p[0] for p in node["vcardArray"][1]]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return out


def test_strip_removes_individuals_contacts_from_a_real_body() -> None:
    raw = body(ARIN_REV)
    assert body_has_pii(raw)
    stripped = strip_pii_from_body(raw)
    doc = json.loads(stripped)  # valid JSON
    cards = _vcards(doc)
    assert cards["FFH1-ARIN"] == ["version", "kind"]  # fn, n, adr, tel, email gone
    assert "franklookyou@gmail.com" not in stripped and "Frank F Hill" not in stripped
    # org and group entities untouched
    assert "email" in cards["KLANG2-ARIN"] and "adr" in cards["ARINL"]
    # everything else the same
    original = json.loads(raw)
    assert doc["handle"] == original["handle"] and doc["events"] == original["events"]
    assert len(doc["entities"]) == len(original["entities"])
    assert not body_has_pii(stripped)
    assert strip_pii_from_body(stripped) == stripped  # idempotent


def test_strip_ripe_individuals_and_keeps_abuse_roles() -> None:
    raw = body("ripe/autnum-8283.json")
    stripped = strip_pii_from_body(raw.decode())
    cards = _vcards(json.loads(stripped))
    assert "Jasper Backer" not in stripped and "Paul de Weerd" not in stripped
    assert "tel" not in cards["BCKR1-RIPE"] and "fn" not in cards["BCKR1-RIPE"]
    assert "email" in cards["CLUE1-RIPE"] and "Netwerkvereniging Coloclue" in stripped


def test_strip_keeps_org_only_bodies_byte_for_byte() -> None:
    raw = body("apnic/ip-1.1.1.1.json")  # org, group and abuse entities only
    assert not body_has_pii(raw)
    assert strip_pii_from_body(raw) == raw.decode()
    registrar_only = body("verisign/google.com-2024.json")
    assert strip_pii_from_body(registrar_only) == registrar_only.decode()


@pytest.mark.parametrize("bad", [b"", b"not json", b'{"vcardArray": [', b"\xff\xfe", b"[1, 2]"])
def test_strip_never_raises_on_bad_bodies(bad: bytes) -> None:
    out = strip_pii_from_body(bad)
    assert out == bad.decode("utf-8", "replace")
    # unparseable text mentioning vcardArray cannot be stripped: counted as personal
    assert body_has_pii(bad) == (b"vcardArray" in bad)


def test_strip_over_the_whole_corpus_is_valid_json_and_leaves_no_pii() -> None:
    for path in sorted(responses_dir().rglob("*.json")):
        raw = path.read_bytes()
        out = strip_pii_from_body(raw)
        try:
            json.loads(raw)
        except ValueError:
            continue
        json.loads(out)
        assert not body_has_pii(out), path


# -- cache: migration, has_pii, purge_personal, audit ----------------------------------------


def _v2_file(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
        "description VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
    )
    for version, description, sql in MIGRATIONS[:2]:
        con.execute(sql)
        con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, description])
    con.execute(
        "INSERT INTO responses (batch_id, lookup_id, query_kind, query, depth, url, final_url,"
        " status, headers, body, body_bytes, fetched_at, latency_ms) VALUES "
        "('b', 'l', 'domain', 'old.fr', 0, 'u', 'u', 200, '{}', '{}', 2, ?, 1.0)",
        [NOW - timedelta(days=400)],
    )
    con.close()


def test_version_2_file_migrates_and_unknown_rows_count_as_personal(tmp_path: Path) -> None:
    path = tmp_path / "v2.duckdb"
    _v2_file(path)
    with Cache(path) as cache:
        assert cache.schema_version == SCHEMA_VERSION >= 3  # migrated to the latest
        assert cache.responses()["has_pii"].to_list() == [None]
        assert cache.audits().schema == AUDIT_SCHEMA and cache.audits().height == 0
        report = cache.purge_personal(older_than_s=86_400 * 30, now=NOW)
    assert report["responses_removed"] == 1 and report["lookups_removed"] == 1


def test_has_pii_set_at_insert_and_purge_personal_removes_only_old_pii(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    person, org = body(ARIN_REV), body("apnic/ip-1.1.1.1.json")
    old = NOW - timedelta(days=60)
    with Cache(path) as cache:
        rows = [
            response(f"p{i}.arpa", person, fetched_at=old, lookup_id=f"p{i}") for i in range(150)
        ]
        # a lookup whose registry answer is clean but whose referral holds PII goes whole
        rows += [response("mix.com", org, fetched_at=old, lookup_id="mix")]
        rows += [response("mix.com", person, depth=1, fetched_at=old, lookup_id="mix")]
        rows += [response("orgold.net", org, fetched_at=old, lookup_id="o")]
        rows += [response("pnew.arpa", person, fetched_at=NOW, lookup_id="n")]
        cache.store_responses(rows)
        flags = dict(cache.responses().select("query", "has_pii").unique().iter_rows())
        assert flags["p0.arpa"] is True and flags["orgold.net"] is False
        report = cache.purge_personal(older_than_s=30 * 86_400, now=NOW)
        assert report["responses_removed"] == 152 and report["lookups_removed"] == 151
        assert report["responses_with_pii_left"] == 1 and report["compacted"]
        assert report["bytes_after"] < report["bytes_before"]
        assert path.stat().st_size == report["bytes_after"]
        left = sorted(cache.responses()["query"].to_list())
        assert left == ["orgold.net", "pnew.arpa"]
        nothing = cache.purge_personal(older_than_s=30 * 86_400, now=NOW)
        assert nothing["responses_removed"] == 0 and not nothing["compacted"]
        with pytest.raises(ValueError):
            cache.purge_personal(older_than_s=-1)


def test_retention_on_open(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    with Cache(path) as cache:
        cache.store_responses(
            [
                response("old.arpa", body(ARIN_REV), fetched_at=datetime.now(timezone.utc)
                         - timedelta(days=10)),
                response("new.arpa", body(ARIN_REV), fetched_at=datetime.now(timezone.utc)),
            ]
        )  # fmt: skip
    with Cache(path, retention=timedelta(days=5)) as cache:
        assert cache.retention_s == 5 * 86_400
        assert cache.retention_report is not None
        assert cache.retention_report["responses_removed"] == 1
        assert cache.responses()["query"].to_list() == ["new.arpa"]
    with pytest.raises(CacheError, match="writable"):
        Cache(path, read_only=True, retention=60)
    with pytest.raises(ValueError):
        Cache(path, retention=-5)


def test_audit_round_trip(tmp_path: Path) -> None:
    with Cache(tmp_path / "c.duckdb") as cache:
        cache.record_audit(
            "b1", ran_at=NOW, objects={"domain": 3, "ip": 1}, pii_kept=False,
            purpose="measurement study", legal_basis="GDPR Art. 6(1)(e)", retention_s=86400.0,
        )  # fmt: skip
        cache.record_audit(
            "b2", ran_at=NOW + timedelta(hours=1), objects={"asn": 2}, pii_kept=True,
            privacy="strict", fields=["domain", "registrar"],
        )  # fmt: skip
        # resuming b1 updates its row, keeping the first start
        cache.record_audit(
            "b1", ran_at=NOW + timedelta(hours=2), finished_at=NOW + timedelta(hours=3),
            objects={"domain": 4, "ip": 1}, pii_kept=False, purpose="measurement study",
            legal_basis="GDPR Art. 6(1)(e)", retention_s=86400.0,
        )  # fmt: skip
        df = cache.audits()
    assert df.schema == AUDIT_SCHEMA
    assert df["batch_id"].to_list() == ["b2", "b1"]
    b1 = df.row(1, named=True)
    assert b1["ran_at"] == NOW and b1["finished_at"] == NOW + timedelta(hours=3)
    assert json.loads(b1["objects"]) == {"domain": 4, "ip": 1}
    assert (b1["pii_kept"], b1["privacy"], b1["retention_s"]) == (False, "default", 86400.0)
    b2 = df.row(0, named=True)
    assert json.loads(b2["fields"]) == ["domain", "registrar"] and b2["pii_kept"] is True


# -- CLI ------------------------------------------------------------------------------------


def test_cli_audit_lists_batches(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.duckdb"
    assert main(["audit", "--cache", str(path)]) == 2  # no such file
    assert "no cache file" in capsys.readouterr().err
    with Cache(path) as cache:
        pass
    assert main(["audit", "--cache", str(path)]) == 0
    assert "no audited batches" in capsys.readouterr().out
    with Cache(path) as cache:
        cache.record_audit(
            "b1", ran_at=NOW, objects={"domain": 1200, "ip": 3}, pii_kept=False,
            purpose="abuse research", legal_basis="legitimate interest", retention_s=2592000,
        )  # fmt: skip
    assert main(["audit", "--cache", str(path)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("2025-06-01 12:00:00Z  b1")
    for part in ("domain 1,200, ip 3", "abuse research", "legitimate interest", "PII kept: no",
                 "privacy: default", "retention: 2.592e+06s"):  # fmt: skip
        assert part in line
    assert main(["audit", "--cache", str(path), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["objects"] == {"domain": 1200, "ip": 3} and row["batch_id"] == "b1"


def test_cli_purge_personal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.duckdb"
    old = datetime.now(timezone.utc) - timedelta(days=40)
    with Cache(path) as cache:
        cache.store_responses(
            [
                response("p.arpa", body(ARIN_REV), fetched_at=old),
                response("o.net", body("apnic/ip-1.1.1.1.json"), fetched_at=old),
            ]
        )
    assert main(["cache", "purge", "--cache", str(path)]) == 2
    assert "--personal-older-than" in capsys.readouterr().err
    assert main(["cache", "purge", "--cache", str(path), "--personal-older-than", "30d"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["personal"]["responses_removed"] == 1
    assert {"bytes_before", "bytes_after"} <= set(report["personal"])
    # both flags together: everything old goes, the report has both parts
    argv = ["cache", "purge", "--cache", str(path), "--older-than", "1d"]
    assert main([*argv, "--personal-older-than", "1d"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["all"]["responses_removed"] == 1 and report["personal"]["responses_removed"] == 0
    # the original flag alone keeps its original output
    assert main(argv) == 0
    assert "responses_removed" in json.loads(capsys.readouterr().out)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))


@pytest.mark.parametrize("member", ["jscontact_card", "jscard", "contact"])
def test_strict_strips_jscontact_cards_under_every_member_name(member: str) -> None:
    # normalize reads all three draft names; strict mode must strip what it reads
    person = {
        "objectClassName": "entity",
        "handle": "P1",
        "roles": ["registrant"],
        member: {
            "kind": "individual",
            "name": {"full": "Jane Roe"},
            "emails": {"e": {"address": "jane@example.net"}},
        },
    }
    body = json.dumps({"objectClassName": "domain", "ldhName": "x.test", "entities": [person]})
    assert body_has_pii(body)
    stripped = strip_pii_from_body(body)
    assert "Jane Roe" not in stripped and "jane@example.net" not in stripped
    assert json.loads(stripped)["entities"][0][member]["kind"] == "individual"
    assert entity_kinds(json.loads(body)) == {"P1": "individual"}
