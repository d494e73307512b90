"""Normalization of user-supplied domain names (rdaplab.names)."""

from __future__ import annotations

import random

import idna
import pytest

from rdaplab.rdap.names import NormalizedName, normalize_domain, normalize_domains

VALID = [
    # (input, name, unicode_name, tld)
    ("example.com", "example.com", "example.com", "com"),
    ("Example.COM", "example.com", "example.com", "com"),
    ("example.com.", "example.com", "example.com", "com"),
    ("  example.com \t\n", "example.com", "example.com", "com"),
    (" WWW.Example.Co.UK. ", "www.example.co.uk", "www.example.co.uk", "uk"),
    ("a-b.c0m.net", "a-b.c0m.net", "a-b.c0m.net", "net"),
    ("123.example", "123.example", "123.example", "example"),
    ("x" * 63 + ".org", "x" * 63 + ".org", "x" * 63 + ".org", "org"),
    # U-label -> A-label
    ("bücher.de", "xn--bcher-kva.de", "bücher.de", "de"),
    ("Bücher.DE.", "xn--bcher-kva.de", "bücher.de", "de"),
    ("münchen.com", "xn--mnchen-3ya.com", "münchen.com", "com"),
    ("пример.рф", "xn--e1afmkfd.xn--p1ai", "пример.рф", "xn--p1ai"),
    # Non-transitional UTS #46: ß is kept (xn--zca), not mapped to "ss" as IDNA 2003 did.
    ("faß.de", "xn--fa-hia.de", "faß.de", "de"),
    # UTS #46 mapping: full-width letters and the ideographic full stop.
    ("ｅｘａｍｐｌｅ.com", "example.com", "example.com", "com"),
    ("bücher。de", "xn--bcher-kva.de", "bücher.de", "de"),
    # A-label input is validated by decoding and gets its U-label form.
    ("xn--bcher-kva.de", "xn--bcher-kva.de", "bücher.de", "de"),
    ("XN--MNCHEN-3YA.com", "xn--mnchen-3ya.com", "münchen.com", "com"),
]


@pytest.mark.parametrize(("value", "name", "unicode_name", "tld"), VALID)
def test_valid_names(value: str, name: str, unicode_name: str, tld: str) -> None:
    result = normalize_domain(value)
    assert result == NormalizedName(value, name, unicode_name, tld, None)
    assert result.valid


INVALID = [
    # (input, fragment expected in the error)
    ("", "empty"),
    ("   ", "empty"),
    (None, "None"),
    (float("nan"), "NaN"),
    (42, "not a string: int"),
    (4.5, "not a string: float"),
    (b"example.com", "not a string: bytes"),
    ("-bad-.com", "hyphen"),
    ("bad-.com", "hyphen"),
    ("a..b.org", "empty label"),
    (".example.com", "empty label"),
    ("example.com..", "empty label"),  # only one trailing dot is the root
    ("exa mple.com", "whitespace"),
    ("exa\tmple.com", "whitespace"),
    ("a_b.com", "letters, digits and hyphen"),
    ("exa!mple.com", "letters, digits and hyphen"),
    ("x" * 64 + ".com", "64 octets"),
    (".".join(["a" * 60] * 5) + ".com", "308 octets"),
    ("com", "bare TLD"),
    ("com.", "bare TLD"),
    ("COM", "bare TLD"),
    ("192.0.2.1", "all-numeric"),
    # RFC 5890 §2.3.1: "--" in positions 3-4 is reserved for A-label prefixes.
    ("ab--cd.com", "positions 3-4"),
    # Not valid Punycode / not a canonical A-label.
    ("xn--zz.com", "IDNA"),
    ("xn--.com", "hyphen"),
    # Disallowed code points (IDNA 2008): symbols, combining mark first, joiner alone.
    ("i♥ny.com", "IDNA"),
    ("\u0300a.com", "IDNA"),
    ("\u200d.com", "IDNA"),
    # Emoji are DISALLOWED in IDNA 2008 (they were allowed by IDNA 2003, which is why
    # names like 💩.la = xn--ls8h.la exist): both the U-label and the A-label are refused.
    ("😀.com", "IDNA"),
    ("xn--ls8h.la", "IDNA"),
    # Non-ASCII whitespace inside a name.
    ("bü cher.de", "IDNA"),
]


@pytest.mark.parametrize(("value", "fragment"), INVALID)
def test_invalid_values(value: object, fragment: str) -> None:
    result = normalize_domain(value)
    assert result.raw is value
    assert (result.name, result.unicode_name, result.tld) == (None, None, None)
    assert not result.valid
    assert result.error is not None
    assert fragment in result.error


def test_idna_reason_is_kept() -> None:
    error = normalize_domain("😀.com").error
    assert error is not None
    assert error.startswith("IDNA: ") and "U+1F600" in error


def test_length_limits_are_inclusive() -> None:
    # 253 octets is the longest name (without the root dot), 254 is too long.
    name_253 = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    assert len(name_253) == 253
    assert normalize_domain(name_253).name == name_253
    assert normalize_domain(name_253 + ".").name == name_253
    assert "254 octets" in (normalize_domain(name_253 + "d").error or "")


def _reference(value: str) -> str | None:
    """What the IDNA library alone says (plus rdaplab's two extra rules), for ASCII."""
    try:
        encoded = idna.encode(value.strip(), uts46=True, std3_rules=True).decode()
    except idna.IDNAError:
        return None
    name = encoded.removesuffix(".")
    labels = name.split(".")
    if len(labels) < 2 or labels[-1].isdigit():
        return None
    return name


def test_ascii_fast_path_agrees_with_idna() -> None:
    # The ASCII path never calls idna.encode; it must accept and refuse exactly what
    # UTS #46 + IDNA 2008 would. Random short names over a tricky alphabet hit
    # hyphen, dot, case, underscore and "--" edge cases.
    rng = random.Random(9224)
    alphabet = "abcxnXN019-._"
    corpus = ["".join(rng.choices(alphabet, k=rng.randint(1, 12))) for _ in range(3000)]
    # Names assembled from tokens that make "--", "xn--" and A-label cases frequent.
    tokens = ["a", "b", "9", "-", "--", "xn--", "XN--", "bcher-kva", "zz", "_", "."]
    corpus += [
        "".join(rng.choices(tokens, k=rng.randint(1, 6))) + rng.choice([".de", ".com."])
        for _ in range(3000)
    ]
    corpus += ["xn--bcher-kva.de", "xn--zz.com", "ab--c.de", "a-.b.c", "A.B", "1.2", "x.y."]
    accepted = 0
    for value in corpus:
        expected = _reference(value)
        assert normalize_domain(value).name == expected, value
        accepted += expected is not None
    assert accepted > 200  # the corpus exercised the accepting side too


def test_normalize_domains_memoizes_and_keeps_order() -> None:
    nan = float("nan")
    values: list[object] = ["A.com", "a.com", "A.com", None, nan, 1, True, "bücher.de", "A.com"]
    results = normalize_domains(values)
    assert results == [normalize_domain(v) for v in values]
    assert [r.raw for r in results][:3] == ["A.com", "a.com", "A.com"]
    assert results[0] is results[2] is results[8]  # computed once
    # 1 and True are equal dict keys; each result keeps its own raw value.
    assert results[5].raw == 1 and type(results[5].raw) is int
    assert type(results[6].raw) is bool
    assert results[7].name == "xn--bcher-kva.de"


def test_normalize_domains_accepts_any_iterable() -> None:
    results = normalize_domains(v for v in ("example.org", "com"))
    assert [r.valid for r in results] == [True, False]
