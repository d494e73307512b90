"""Registrable domains (rdaplab.rdap.psl): hosts of URLs and addresses, the Public Suffix
List's sections, a user's list file, and the fast path held equal to the library."""

from __future__ import annotations

import doctest
import logging
from pathlib import Path

import pytest
from publicsuffixlist import PublicSuffixList

import rdaplab.rdap.psl as psl_module
from rdaplab.errors import InputError
from rdaplab.rdap.psl import (
    PSL_FILE,
    DomainMapper,
    PublicSuffixes,
    check_psl_text,
    split_host,
)

BUNDLED = PublicSuffixes.bundled()
ICANN = DomainMapper(BUNDLED)
PRIVATE = DomainMapper(BUNDLED, private=True)


def one(value: object, mapper: DomainMapper = ICANN) -> tuple[str | None, str | None]:
    got = mapper.map([value])[0]
    assert got.raw is value
    return got.name, got.error


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("example.com", "example.com"),
        ("www.example.co.uk", "example.co.uk"),
        ("WWW.Example.CO.UK.", "example.co.uk"),  # uppercase, trailing dot
        ("  a.b.example.org  ", "example.org"),
        ("https://example.com/path", "example.com"),
        ("https://user:pw@WWW.Example.com:8443/a/b?c=d#e", "example.com"),  # userinfo, port
        ("http://www.example.co.uk.:80", "example.co.uk"),
        ("HTTPS://Shop.Example.FR", "example.fr"),
        ("ftp://files.example.net/", "example.net"),
        ("example.com:8080", "example.com"),
        ("www.example.com/index.html?x=1", "example.com"),
        ("user@example.com", "example.com"),
        ("first.last@mail.example.ac.uk", "example.ac.uk"),
        ("mailto:someone@Sub.Example.org?subject=hi", "example.org"),
        ("MAILTO:a%40b@example.de", "example.de"),
        ("Jane Doe <jane@lists.example.fr>", "example.fr"),
        ("bücher.de", "xn--bcher-kva.de"),  # IDN
        ("www.Bücher.de", "xn--bcher-kva.de"),
        ("https://www.bücher.de/kaufen", "xn--bcher-kva.de"),
        ("http://www.xn--bcher-kva.de/", "xn--bcher-kva.de"),  # A-label host
        ("http://b%C3%BCcher.de/", "xn--bcher-kva.de"),  # percent-encoded host
        ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
        ("www.пример.рф", "xn--e1afmkfd.xn--p1ai"),
        ("a.b.city.kawasaki.jp", "city.kawasaki.jp"),  # an exception rule (!city.kawasaki.jp)
        ("x.y.kawasaki.jp", "x.y.kawasaki.jp"),  # a wildcard (*.kawasaki.jp)
        ("foo.blogspot.com", "blogspot.com"),  # private section: not by default
        ("152.112.149.in-addr.arpa", "152.112.149.in-addr.arpa"),  # reverse DNS: whole
        ("a.b.unknowntld", "b.unknowntld"),  # PSL default rule: the TLD is the suffix
    ],
)
def test_values_map_to_their_registrable_domain(value: str, name: str) -> None:
    assert one(value) == (name, None)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("co.uk", "'co.uk' is a public suffix (Public Suffix List 20"),
        ("CO.UK.", "ICANN section): no registrable domain to look up"),
        ("https://co.uk/", "'co.uk' is a public suffix"),
        ("http://", "URL without a host name: 'http://'"),
        ("https:///path", "URL without a host name"),
        ("http://192.0.2.1/x", "the URL's host is an IP address, not a domain name"),
        ("http://[2001:db8::1]:80/", "the URL's host is an IP address"),
        ("http://example.com:http/", "the URL's port is not a number"),
        ("user@", "e-mail address without a domain: 'user@'"),
        ("mailto:a@x.com,b@y.com", "mailto: with several addresses"),
        ("user@-bad-.com", "the e-mail address's host '-bad-.com': label '-bad-'"),
        ("https://exa mple.com/", "the URL's host 'exa mple.com': contains whitespace"),
        ("/just/a/path", "no host name before the path or port"),
        ("n/a", "host 'n': 'n' is a bare TLD"),
        ("localhost", "bare TLD"),
        (None, "missing value (None)"),
        (3.5, "not a string"),
    ],
)
def test_values_without_a_registrable_domain_say_why(value: object, reason: str) -> None:
    name, error = one(value)
    assert name is None
    assert error is not None and reason in error


def test_the_private_section_is_opt_in() -> None:
    assert one("foo.blogspot.com", PRIVATE) == ("foo.blogspot.com", None)
    assert one("a.foo.blogspot.com", PRIVATE) == ("foo.blogspot.com", None)
    assert one("user.github.io") == ("github.io", None)
    assert one("user.github.io", PRIVATE) == ("user.github.io", None)
    name, error = one("blogspot.com", PRIVATE)
    assert name is None and error is not None
    assert "is a public suffix" in error and "ICANN and private sections" in error
    assert one("blogspot.com") == ("blogspot.com", None)  # ICANN only: a registrable name


def test_unicode_name_and_tld_follow_the_registrable_domain() -> None:
    got = ICANN.map(["https://www.bücher.co.uk/x"])[0]
    assert (got.name, got.unicode_name, got.tld) == ("xn--bcher-kva.co.uk", "bücher.co.uk", "uk")


def test_each_distinct_value_is_mapped_once_and_rows_are_counted() -> None:
    mapper = DomainMapper(BUNDLED)
    values = ["www.a.com", "a.com", "www.a.com", "https://a.com/", "b.com", None, "co.uk"]
    got = mapper.map(values)
    assert [g.name for g in got] == ["a.com", "a.com", "a.com", "a.com", "b.com", None, None]
    assert got[0] is got[2]  # one result per distinct string
    assert [g.raw for g in got] == values
    assert mapper.mapped_rows == 3  # the two www.a.com rows and the URL
    mapper.map(("x.example.com", "example.com"))  # any sequence
    assert mapper.mapped_rows == 4


def test_split_host() -> None:
    assert split_host("example.com") == ("name", "example.com", None)
    assert split_host("fe80::1") == ("name", "fe80::1", None)  # not host:port
    assert split_host("example.com:443") == ("host", "example.com", None)
    assert split_host("user@example.com") == ("e-mail address", "example.com", None)
    assert doctest.testmod(psl_module).failed == 0


def _names_from_rules(text: str) -> list[str]:
    """Two-label names every rule (and its parent) might decide, plus a few others."""
    out = {"example.com", "a.b", "x.kawasaki.jp", "foo.ck", "www.ck", "a.xn--p1ai"}
    for line in text.splitlines():
        rule = line.strip().split(" ")[0].lower()
        if not rule or rule.startswith("//"):
            continue
        bare = rule.lstrip("!").removeprefix("*.")
        labels = bare.split(".")
        out.add(f"zz.{labels[-1]}")
        out.add(".".join(labels[-2:]) if len(labels) > 1 else f"q.{bare}")
        out.add(bare)
    return sorted(out)


@pytest.mark.parametrize("private", [False, True])
def test_the_fast_path_equals_the_library(private: bool) -> None:
    text = Path(psl_module.PSLFILE).read_text(encoding="utf-8")
    lib = PublicSuffixList(source=text, only_icann=not private)
    section = BUNDLED.section(private)
    names = _names_from_rules(text)
    assert len(names) > 5_000
    for name in names:
        try:
            name.encode("ascii")
        except UnicodeEncodeError:
            continue  # lookups hand the matcher A-labels only
        assert section.registrable(name) == lib.privatesuffix(name), name


def test_the_bundled_list_reports_its_version() -> None:
    assert BUNDLED.source == "bundled"
    assert BUNDLED.version is not None and BUNDLED.version[:2] == "20"
    assert BUNDLED.version in BUNDLED.describe() and "publicsuffixlist" in BUNDLED.describe()
    assert ICANN.settings()["psl_version"] == BUNDLED.version
    assert ICANN.settings()["psl_private"] is False


SMALL_PSL = """// a test list
// VERSION: 2030-01-02_03-04-05_UTC
// ===BEGIN ICANN DOMAINS===
test
co.test
// ===END ICANN DOMAINS===
// ===BEGIN PRIVATE DOMAINS===
pages.test
// ===END PRIVATE DOMAINS===
"""


def test_a_list_file_is_read_and_its_version_reported(tmp_path: Path) -> None:
    path = tmp_path / "my.dat"
    path.write_text(SMALL_PSL, encoding="utf-8")
    mine = PublicSuffixes.load(path)
    assert (mine.source, mine.path, mine.version) == ("file", path, "2030-01-02_03-04-05_UTC")
    assert PublicSuffixes.load(tmp_path / "my.dat") is mine  # one parse per file version
    assert PublicSuffixes.load(mine) is mine
    assert mine.registrable("www.shop.co.test") == "shop.co.test"
    assert mine.registrable("a.b.pages.test") == "pages.test"
    assert mine.registrable("a.b.pages.test", private=True) == "b.pages.test"
    assert mine.registrable("www.example.co.uk") == "co.uk"  # not in this list: uk alone
    (tmp_path / PSL_FILE).write_text(SMALL_PSL, encoding="utf-8")
    assert PublicSuffixes.load(tmp_path).version == mine.version  # a folder holding the file


def test_the_refreshed_copy_wins_when_valid(tmp_path: Path, monkeypatch, caplog) -> None:
    monkeypatch.setenv("RDAPLAB_PSL_DIR", str(tmp_path))
    assert PublicSuffixes.load().source == "bundled"  # none yet
    (tmp_path / PSL_FILE).write_text(SMALL_PSL, encoding="utf-8")
    got = PublicSuffixes.load()
    assert (got.source, got.version) == ("refreshed", "2030-01-02_03-04-05_UTC")
    (tmp_path / PSL_FILE).write_text("not a list, longer now\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="rdaplab"):
        assert PublicSuffixes.load().source == "bundled"
    assert "ignoring the refreshed Public Suffix List" in caplog.text


def test_unusable_list_files_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"Public Suffix List file .*nowhere\.dat"):
        PublicSuffixes.load(tmp_path / "nowhere.dat")
    bad = tmp_path / "bad.dat"
    bad.write_bytes(b"com\nnet\n")
    with pytest.raises(InputError, match="is not a Public Suffix List: no '// ===BEGIN ICANN"):
        PublicSuffixes.load(bad)
    with pytest.raises(InputError, match="not UTF-8"):
        check_psl_text(b"\xff\xfe", "x.dat")
