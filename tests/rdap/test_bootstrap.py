"""RFC 9224 bootstrap, against the real IANA files bundled in datasets/bootstrap."""

from __future__ import annotations

import json
import logging
import shutil
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from rdaplab._data import bootstrap_dir
from rdaplab.errors import BootstrapError, InputError
from rdaplab.rdap import Bootstrap, BootstrapOverrideWarning, BootstrapStaleWarning, ServiceMatch
from rdaplab.rdap.bootstrap_files import BOOTSTRAP_FILES

VERISIGN_COM = "https://rdap.verisign.com/com/v1/"
ARIN = "https://rdap.arin.net/registry/"
RIPE = "https://rdap.db.ripe.net/"
APNIC = "https://rdap.apnic.net/"
AFRINIC = "https://rdap.afrinic.net/rdap/"


@pytest.fixture(scope="module")
def bundled() -> Bootstrap:
    return Bootstrap.bundled()


def _dns_services() -> list[list[list[str]]]:
    return json.loads((bootstrap_dir() / "dns.json").read_text())["services"]


def _write(directory: Path, name: str, services: list, publication: str = "2030-01-01") -> None:
    doc = {"description": "test", "publication": publication, "services": services}
    (directory / name).write_text(json.dumps(doc))


# ------------------------------------------------------------------ domains


def test_com_goes_to_verisign(bundled: Bootstrap) -> None:
    match = bundled.domain("example.com")
    assert match == ServiceMatch(
        kind="domain",
        key="com",
        urls=(VERISIGN_COM,),
        base_url=VERISIGN_COM,
        source="iana",
        publication="2025-11-06T23:00:01Z",
    )
    # Case and a trailing root dot are tolerated.
    assert bundled.domain("WWW.Example.COM.") == match


def test_every_real_dns_entry_resolves(bundled: Bootstrap) -> None:
    services = _dns_services()
    assert len(services) == 597
    for entries, urls in services:
        for tld in entries:
            match = bundled.domain(f"nic.{tld}")
            assert match is not None and match.key == tld and match.urls == tuple(urls)
            assert match.base_url.startswith("https://") and match.base_url.endswith("/")


def test_absent_tld_has_no_service(bundled: Bootstrap) -> None:
    assert bundled.domain("example.example") is None
    # A real gap in this snapshot: DENIC (.de) is not in IANA's dns.json.
    assert bundled.domain("xn--bcher-kva.de") is None


def test_multi_label_suffix_longest_match(tmp_path: Path) -> None:
    # The real dns.json has only single-label entries (checked here, so this test
    # notices if IANA ever adds one); RFC 9224 §4 allows multi-label ones, so add one.
    services = _dns_services()
    assert all("." not in key for entries, _ in services for key in entries)
    services.append([["co.uk"], ["https://rdap.co-uk.test/"]])
    _write(tmp_path, "dns.json", services)
    boot = Bootstrap.from_dir(tmp_path)
    assert boot.domain("example.co.uk").key == "co.uk"  # type: ignore[union-attr]
    assert boot.domain("a.b.example.co.uk").key == "co.uk"  # type: ignore[union-attr]
    uk = boot.domain("example.uk")
    assert uk is not None and uk.key == "uk" and uk.base_url != "https://rdap.co-uk.test/"
    assert boot.domain("example.notco.uk").key == "uk"  # type: ignore[union-attr]


def test_override_suffix_beats_shorter_entries(bundled: Bootstrap) -> None:
    boot = Bootstrap.load(
        bundled,
        {"co.example": "https://rdap.co.example.test/", "example": "https://rdap.example.test"},
    )
    deep = boot.domain("a.b.co.example")
    assert deep is not None and deep.key == "co.example" and deep.source == "override"
    assert deep.publication is None
    shallow = boot.domain("a.b.example")
    assert shallow is not None and shallow.key == "example"
    assert shallow.base_url == "https://rdap.example.test/"  # trailing slash added
    assert boot.domain("a.com").base_url == VERISIGN_COM  # type: ignore[union-attr]
    # The instance given is left untouched.
    assert bundled.domain("a.b.co.example") is None


def test_override_adds_absent_tld_without_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        boot = Bootstrap.bundled({"de": ["https://rdap.denic.test/"]})
    assert boot.domain("xn--bcher-kva.de").base_url == "https://rdap.denic.test/"  # type: ignore[union-attr]


def test_override_shadowing_iana_warns(bundled: Bootstrap) -> None:
    with pytest.warns(BootstrapOverrideWarning, match=r"'com'.*rdap\.verisign\.com") as rec:
        boot = Bootstrap.load(bundled, {"COM.": "http://127.0.0.1:8080/com/"})
    # stacklevel points at the caller, not at rdaplab's internals.
    assert rec[0].filename == __file__
    match = boot.domain("example.com")
    assert match is not None and match.source == "override"
    assert match.base_url == "http://127.0.0.1:8080/com/"
    assert "shadows the IANA entry" in boot.explain("example.com")


def test_override_with_the_iana_url_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        boot = Bootstrap.bundled({"com": VERISIGN_COM})
    assert boot.domain("x.com").source == "override"  # type: ignore[union-attr]


def test_unicode_override_key_becomes_a_label() -> None:
    boot = Bootstrap.bundled({"испытание": "https://rdap.test/"})
    assert boot.domain("x.xn--80akhbyknj4f").key == "xn--80akhbyknj4f"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "overrides",
    [
        {"": "https://x.test/"},
        {"example": "ftp://x.test/"},
        {"example": []},
        {"example": "not a url"},
        {"bad key!": "https://x.test/"},
    ],
)
def test_bad_overrides_raise(overrides: dict) -> None:
    with pytest.raises(InputError):
        Bootstrap.bundled(overrides)


# ------------------------------------------------------------------ URL policy


def test_http_only_entry_is_upgraded(bundled: Bootstrap) -> None:
    # dns.json really lists .kg with an http URL only.
    match = bundled.domain("nic.kg")
    assert match is not None
    assert match.urls == ("http://rdap.cctld.kg/",)
    assert match.base_url == "https://rdap.cctld.kg/"
    assert "upgraded to https" in bundled.explain("nic.kg")


def test_https_preferred_even_when_listed_second(bundled: Bootstrap) -> None:
    boot = Bootstrap.load(bundled, {"example": ["http://a.test/r/", "https://b.test/r/"]})
    assert boot.domain("x.example").base_url == "https://b.test/r/"  # type: ignore[union-attr]


# ------------------------------------------------------------------ IP, ASN, entity


@pytest.mark.parametrize(
    ("value", "key", "base_url"),
    [
        ("1.1.1.1", "1.0.0.0/8", APNIC),
        ("196.216.2.1", "196.0.0.0/8", AFRINIC),
        ("8.8.8.0/24", "8.0.0.0/8", ARIN),
        ("2001:4860::8888", "2001:4800::/23", ARIN),
        ("2001:4860::/32", "2001:4800::/23", ARIN),
        ("2a00:1450::1", "2a00::/12", RIPE),
    ],
)
def test_ip_lookup(bundled: Bootstrap, value: str, key: str, base_url: str) -> None:
    match = bundled.ip(value)
    assert match is not None
    assert (match.kind, match.key, match.base_url, match.source) == ("ip", key, base_url, "iana")


def test_ip_publications_per_family(bundled: Bootstrap) -> None:
    assert bundled.ip("1.1.1.1").publication == "2019-06-07T19:00:02Z"  # type: ignore[union-attr]
    assert bundled.ip("2001:4860::1").publication == "2024-11-01T22:00:01Z"  # type: ignore[union-attr]


def test_ip_without_entry_or_too_wide(bundled: Bootstrap) -> None:
    assert bundled.ip("10.1.2.3") is None  # private space: not in ipv4.json
    assert bundled.ip("0.0.0.0/0") is None  # wider than every entry
    assert bundled.ip("2.0.0.0/7") is None  # spans two /8 entries (2/8 and 3/8)
    with pytest.raises(InputError, match="not an IP"):
        bundled.ip("example.com")


def test_ip_longest_prefix_wins(tmp_path: Path) -> None:
    _write(tmp_path, "dns.json", [])
    _write(
        tmp_path,
        "ipv4.json",
        [
            [["10.0.0.0/8"], ["https://wide.test/"]],
            [["10.1.0.0/16", "10.1.2.0/24"], ["https://narrow.test/"]],
        ],
    )
    _write(
        tmp_path,
        "ipv6.json",
        [[["2001:db8::/32"], ["https://narrow6.test/"]], [["2000::/3"], ["https://wide6.test/"]]],
    )
    boot = Bootstrap.from_dir(tmp_path)
    assert boot.ip("10.1.2.3").key == "10.1.2.0/24"  # type: ignore[union-attr]
    assert boot.ip("10.1.3.3").key == "10.1.0.0/16"  # type: ignore[union-attr]
    assert boot.ip("10.2.0.0/16").key == "10.0.0.0/8"  # type: ignore[union-attr]
    assert boot.ip("10.1.0.0/15").key == "10.0.0.0/8"  # type: ignore[union-attr]
    # A /23 contains the /24 entry but is not contained by it: the /16 answers.
    assert boot.ip("10.1.2.0/23").key == "10.1.0.0/16"  # type: ignore[union-attr]
    assert boot.ip("2001:db8:1::1").base_url == "https://narrow6.test/"  # type: ignore[union-attr]
    assert boot.ip("2001:db9::1").base_url == "https://wide6.test/"  # type: ignore[union-attr]
    assert boot.ip("fe80::1") is None
    assert boot.asn(15169) is None and boot.entity("X-ARIN") is None  # files absent
    assert set(boot.publications) == {"dns.json", "ipv4.json", "ipv6.json"}


@pytest.mark.parametrize(
    ("number", "key", "base_url"),
    [
        (15169, "13312-15359", ARIN),
        (13312, "13312-15359", ARIN),  # range bounds are inclusive
        (15359, "13312-15359", ARIN),
        (3333, "3154-3353", RIPE),
        (2043, "2043", RIPE),  # single-number entry
        (1, "1-1876", ARIN),
    ],
)
def test_asn_lookup(bundled: Bootstrap, number: int, key: str, base_url: str) -> None:
    match = bundled.asn(number)
    assert match is not None
    assert (match.kind, match.key, match.base_url) == ("asn", key, base_url)
    assert match.publication == "2025-01-17T20:00:02Z"


def test_asn_outside_ranges(bundled: Bootstrap) -> None:
    assert bundled.asn(0) is None
    assert bundled.asn(4_294_967_295) is None


@pytest.mark.parametrize(
    ("handle", "key", "base_url"),
    [
        ("XXXX-ARIN", "ARIN", ARIN),
        ("FOO-RIPE", "RIPE", RIPE),
        ("foo-ripe", "RIPE", RIPE),
        ("ABC-123-APNIC", "APNIC", APNIC),  # the tag is after the *last* hyphen
        ("NOR1-NORID", "NORID", "https://rdap.norid.no/"),
    ],
)
def test_entity_lookup(bundled: Bootstrap, handle: str, key: str, base_url: str) -> None:
    match = bundled.entity(handle)
    assert match is not None
    assert (match.kind, match.key, match.base_url) == ("entity", key, base_url)


@pytest.mark.parametrize("handle", ["ARIN", "XXXX-NOPE", "ARIN-XXXX", "-ARIN", "X-"])
def test_entity_without_known_tag(bundled: Bootstrap, handle: str) -> None:
    assert bundled.entity(handle) is None


# ------------------------------------------------------------------ loading


def test_publications_are_read(bundled: Bootstrap) -> None:
    expected = {
        path.name: json.loads(path.read_text())["publication"]
        for path in bootstrap_dir().glob("*.json")
    }
    assert bundled.publications == expected
    assert bundled.publications["dns.json"] == "2025-11-06T23:00:01Z"


def test_load_variants(bundled: Bootstrap) -> None:
    assert Bootstrap.load(bundled) is bundled
    assert Bootstrap.load().domain("a.com") == bundled.domain("a.com")
    from_str = Bootstrap.load(str(bootstrap_dir()))
    assert from_str.publications == bundled.publications
    with pytest.raises(InputError):
        Bootstrap.load(42)  # type: ignore[arg-type]


def test_older_snapshot_loads(tmp_path: Path) -> None:
    shutil.copy(bootstrap_dir() / "older" / "dns-2025-06-27.json", tmp_path / "dns.json")
    boot = Bootstrap.from_dir(tmp_path)
    assert boot.publications == {"dns.json": "2025-06-27T17:00:02Z"}
    assert boot.domain("example.com").base_url == VERISIGN_COM  # type: ignore[union-attr]


def test_from_dir_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(BootstrapError, match="does-not-exist"):
        Bootstrap.from_dir(tmp_path / "does-not-exist")
    with pytest.raises(BootstrapError, match=r"dns\.json is missing"):
        Bootstrap.from_dir(tmp_path)

    (tmp_path / "dns.json").write_text("{not json")
    with pytest.raises(BootstrapError, match=r"dns\.json is not valid JSON"):
        Bootstrap.from_dir(tmp_path)

    (tmp_path / "dns.json").write_text('{"description": "x", "entries": []}')
    with pytest.raises(BootstrapError, match=r"dns\.json is not an IANA"):
        Bootstrap.from_dir(tmp_path)

    _write(tmp_path, "dns.json", [[["com"], "https://x.test/"]])
    with pytest.raises(BootstrapError, match=r"dns\.json: service #0"):
        Bootstrap.from_dir(tmp_path)

    _write(tmp_path, "dns.json", [[["com"], ["https://a.test/"]], [["COM"], ["https://b.test/"]]])
    with pytest.raises(BootstrapError, match=r"dns\.json: 'com' is listed in two services"):
        Bootstrap.from_dir(tmp_path)

    _write(tmp_path, "dns.json", [[["com"], ["https://a.test/"]]])
    (tmp_path / "ipv4.json").write_bytes(b"\xff\xfe")
    with pytest.raises(BootstrapError, match=r"ipv4\.json"):
        Bootstrap.from_dir(tmp_path)

    _write(tmp_path, "ipv4.json", [[["1.0.0.0/8", "nope"], ["https://a.test/"]]])
    with pytest.raises(BootstrapError, match=r"ipv4\.json: bad prefix 'nope'"):
        Bootstrap.from_dir(tmp_path)

    _write(tmp_path, "ipv4.json", [[["2001:db8::/32"], ["https://a.test/"]]])
    with pytest.raises(BootstrapError, match=r"ipv4\.json: '2001:db8::/32' is not IPv4"):
        Bootstrap.from_dir(tmp_path)

    (tmp_path / "ipv4.json").unlink()
    _write(tmp_path, "asn.json", [[["1-100"], ["https://a.test/"]], [["50-60"], ["https://b/"]]])
    with pytest.raises(BootstrapError, match=r"asn\.json: AS ranges 1-100 and 50-60 overlap"):
        Bootstrap.from_dir(tmp_path)

    _write(tmp_path, "asn.json", [[["AS1"], ["https://a.test/"]]])
    with pytest.raises(BootstrapError, match=r"asn\.json: bad AS range 'AS1'"):
        Bootstrap.from_dir(tmp_path)

    (tmp_path / "asn.json").unlink()
    _write(tmp_path, "object-tags.json", [[["ARIN"], ["https://a.test/"]]])  # 2, not 3 parts
    with pytest.raises(BootstrapError, match=r"object-tags\.json: service #0"):
        Bootstrap.from_dir(tmp_path)


def test_file_in_place_of_directory(tmp_path: Path) -> None:
    file = tmp_path / "dns.json"
    file.write_text("{}")
    with pytest.raises(BootstrapError, match="not a directory"):
        Bootstrap.from_dir(file)


def test_missing_publication_is_none(tmp_path: Path) -> None:
    (tmp_path / "dns.json").write_text(json.dumps({"services": [[["test"], ["https://t/"]]]}))
    boot = Bootstrap.from_dir(tmp_path)
    assert boot.publications == {"dns.json": None}
    assert boot.domain("a.test").publication is None  # type: ignore[union-attr]


# ------------------------------------------------------------------ explain


def test_explain_domain_match(bundled: Bootstrap) -> None:
    text = bundled.explain("Example.COM.")
    assert "normalized: example.com" in text
    assert "matched entry: 'com'" in text
    assert "dns.json (IANA, publication 2025-11-06T23:00:01Z)" in text
    assert f"base URL chosen: {VERISIGN_COM} (first https URL listed)" in text
    assert "example.com, com" in text  # candidates tried, longest first


def test_explain_longest_suffix_and_unicode(bundled: Bootstrap) -> None:
    boot = Bootstrap.load(bundled, {"xn--bcher-kva.de": "https://rdap.buecher.test/"})
    text = boot.explain("shop.Bücher.de")
    assert "normalized: shop.xn--bcher-kva.de (unicode: shop.bücher.de)" in text
    assert "matched entry: 'xn--bcher-kva.de'" in text
    assert "longest matching suffix" in text
    assert "source: user override" in text


def test_explain_no_match_and_invalid(bundled: Bootstrap) -> None:
    text = bundled.explain("example.example")
    assert "'example' is not in dns.json" in text
    assert "overrides=" in text
    assert "bare TLD" in bundled.explain("com")


def test_explain_ip_asn_entity(bundled: Bootstrap) -> None:
    text = bundled.explain("1.1.1.1")
    assert "matched entry: '1.0.0.0/8'" in text and APNIC in text and "ipv4.json" in text
    text = bundled.explain("AS15169")
    assert "matched entry: '13312-15359'" in text and ARIN in text
    assert "no range in asn.json contains 99999999" in bundled.explain("99999999")
    text = bundled.explain("XXXX-ARIN")
    assert "entity handle" in text and "matched entry: 'ARIN'" in text
    assert "no prefix in ipv4.json" in bundled.explain("10.0.0.1")


# ------------------------------------------------------------------ which copy, staleness


@pytest.fixture
def isolated_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the refreshed copy would be: never the real user data directory."""
    store = tmp_path / "store"
    monkeypatch.setenv("RDAPLAB_BOOTSTRAP_DIR", str(store))
    return store


def test_unusable_refreshed_copy_falls_back_to_bundled(isolated_store: Path):
    isolated_store.mkdir()
    for name in BOOTSTRAP_FILES:
        (isolated_store / name).write_bytes((bootstrap_dir() / name).read_bytes())
    (isolated_store / "ipv6.json").write_text('{"services": "nope"}')
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("rdaplab.bootstrap")
    logger.addHandler(handler)
    try:
        boot = Bootstrap.load(None)
    finally:
        logger.removeHandler(handler)
    assert boot.source == "bundled" and boot.directory == bootstrap_dir()
    assert len(records) == 1 and records[0].levelno == logging.WARNING
    assert "ipv6.json" in records[0].getMessage() and "bundled" in records[0].getMessage()


def write_dir(directory: Path, publication: str) -> Path:
    directory.mkdir()
    for name in BOOTSTRAP_FILES:
        data = json.loads((bootstrap_dir() / name).read_text())
        data["publication"] = publication
        (directory / name).write_text(json.dumps(data))
    return directory


def _iso(delta: timedelta) -> str:
    return (datetime.now(timezone.utc) - delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_stale_warning_once_for_old_publication(tmp_path: Path):
    old = write_dir(tmp_path / "old", _iso(timedelta(days=45)))
    with pytest.warns(BootstrapStaleWarning) as rec:
        boot = Bootstrap.load(old)
    stale = [w for w in rec if issubclass(w.category, BootstrapStaleWarning)]
    assert len(stale) == 1
    message = str(stale[0].message)
    assert "45 days old" in message and "rdaplab bootstrap refresh" in message
    assert str(old) in message and stale[0].filename == __file__
    assert boot.source == "custom" and boot.warn_if_stale()  # still stale...
    with warnings.catch_warnings():
        warnings.simplefilter("error", BootstrapStaleWarning)
        Bootstrap.load(old)  # ...but said once per process and directory
        Bootstrap.load(str(old))


def test_no_stale_warning_for_a_fresh_bootstrap(tmp_path: Path):
    fresh = write_dir(tmp_path / "fresh", _iso(timedelta(days=29)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", BootstrapStaleWarning)
        boot = Bootstrap.load(fresh)
    assert not boot.warn_if_stale()
    assert 28.9 < boot.age_days() < 29.1  # type: ignore[operator]
