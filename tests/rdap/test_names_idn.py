"""IDN rules of rdaplab.names: mixed-script labels (UTS #39) and IDNA refusal reasons."""

from __future__ import annotations

import unicodedata

import idna
import polars as pl
import pytest

from rdaplab.rdap import names
from rdaplab.rdap.kinds import normalize_query
from rdaplab.rdap.names import label_scripts, normalize_domain, normalize_domains

# (input, scripts as reported, A-label of the offending label)
MIXED = [
    # the classic homograph: Latin with a Cyrillic "а" (U+0430)
    ("p\u0430ypal.com", "Latin, Cyrillic U+0430", "xn--pypal-4ve"),
    # ... given as its A-label, in upper case, or in full-width letters (UTS #46 maps them)
    ("xn--pypal-4ve.com", "Latin, Cyrillic U+0430", "xn--pypal-4ve"),
    ("XN--PYPAL-4VE.COM.", "Latin, Cyrillic U+0430", "xn--pypal-4ve"),
    ("P\u0410YPAL.COM", "Latin, Cyrillic U+0430", "xn--pypal-4ve"),
    ("\uff30\u0410\uff39\uff30\uff21\uff2c.com", "Latin, Cyrillic U+0430", "xn--pypal-4ve"),
    # Latin-first with an IDN-looking Latin label around it
    ("m\u00fcnchen-p\u0430y.de", "Latin, Cyrillic U+0430", "xn--mnchen-py-q9a141g"),
    # Greek with Latin, Cyrillic with Greek, Devanagari with Latin
    ("\u03b1\u03b2c.gr", "Greek, Latin U+0063", "xn--c-ylbd"),
    ("\u0430\u03b2.com", "Cyrillic, Greek U+03B2", "xn--nxa5w"),
    ("\u0939\u093f\u0928\u094d\u0926\u0940abc.in", "Devanagari, Latin U+0061", None),
    # Han may go with Hangul or Bopomofo, but Hangul with Bopomofo / Katakana may not
    ("\ud55c\u3105.kr", "Hangul, Bopomofo U+3105", None),
    ("\u30ab\ud55c.jp", "Katakana, Hangul U+D55C", None),
]


@pytest.mark.parametrize(("value", "scripts", "alabel"), MIXED)
def test_mixed_script_labels_are_refused(value: str, scripts: str, alabel: str | None) -> None:
    result = normalize_domain(value)
    assert (result.name, result.unicode_name, result.tld) == (None, None, None)
    assert result.error is not None
    assert result.error.startswith("mixed scripts in label ")
    assert f"({scripts}): refused as a likely homograph (UTS #39)" in result.error
    if alabel is not None:
        assert f" = {alabel} (" in result.error


def test_the_homograph_message_in_full() -> None:
    assert normalize_domain("p\u0430ypal.com").error == (
        "mixed scripts in label 'p\u0430ypal' = xn--pypal-4ve (Latin, Cyrillic U+0430): "
        "refused as a likely homograph (UTS #39)"
    )


def test_u_label_and_a_label_spellings_get_the_same_verdict() -> None:
    for value, _, _ in MIXED:
        alabels = idna.encode(value, uts46=True, transitional=False).decode()
        assert normalize_domain(alabels).error == normalize_domain(value).error, value
    for value, _, _, _ in ACCEPTED:
        u_result = normalize_domain(value)
        assert u_result.name is not None, value
        a_result = normalize_domain(u_result.name)
        assert (a_result.name, a_result.unicode_name) == (u_result.name, u_result.unicode_name)


# (input, A-label name, U-label name, why it is fine)
ACCEPTED = [
    # Japanese: Han + Katakana + Hiragana + Latin, and the prolonged sound mark (Common)
    ("\u65e5\u672c\u8a9e\u30c9\u30e1\u30a4\u30f3.jp", "xn--eckwd4c7c5976acvb2w6i.jp", None, "ja"),
    ("\u3072\u3089\u304c\u306a\u30ab\u30bf\u30ab\u30ca\u6f22\u5b57abc.jp", None, None, "ja"),
    ("\u6771\u4eac\u30fc.jp", "xn--wek960gr5q.jp", None, "Han + prolonged mark"),
    ("\u30c9\u30e1\u30a4\u30f3\u30fb\u540d.jp", "xn--eckwd4c7cvb9552b.jp", None, "katakana dot"),
    # Korean: Hangul + Latin; Chinese: Han + Bopomofo
    ("\ud55c\uad6d\uc5b4abc.kr", "xn--abc-lt8l948gbwt.kr", None, "ko"),
    ("\u4e2d\u6587\u3105.tw", "xn--5ek909fo6p.tw", None, "zh"),
    # one script per label, labels may differ; digits and hyphens go with anything
    ("\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444", "xn--e1afmkfd.xn--p1ai", None, "ru"),
    ("\u043f\u0440\u0438\u043c\u0435\u04401-2.com", "xn--1-2-qddoytid.com", None, "digits"),
    ("\u03b5\u03bb\u03bb\u03ac\u03b4\u03b12024.gr", "xn--2024-9kd4aug8ca.gr", None, "el"),
    # a combining mark (NFC-composed by UTS #46) and the Catalan middle dot (Common)
    ("e\u0301cole.fr", "xn--cole-9oa.fr", "\u00e9cole.fr", "combining mark"),
    ("l\u00b7l.cat", "xn--ll-0ea.cat", None, "CONTEXTO middle dot"),
    # joiners in their RFC 5892 contexts: Persian ZWNJ, Devanagari virama + ZWJ
    ("\u0646\u0627\u0645\u0647\u200c\u0627\u06cc.ir", "xn--mgba3gch31f060k.ir", None, "ZWNJ"),
    ("\u0915\u094d\u200d\u0937.in", "xn--11b2ezcw70k.in", None, "ZWJ after virama"),
    # right-to-left labels that satisfy the bidi rule
    ("\u0627\u0644\u0639\u0631\u0628\u064a\u0629.com", "xn--mgbcd4a2b0d2b.com", None, "ar"),
    ("\u05d0\u05d11.com", "xn--1-zhcd.com", None, "he + digit"),
    # whole-script confusables are single-script: beyond "highly restrictive" (documented)
    ("\u0430\u0440\u0440\u04cf\u0435\u3002com", "xn--80ak6aa92e.com", None, "cyrillic apple"),
]


@pytest.mark.parametrize(("value", "name", "unicode_name", "why"), ACCEPTED)
def test_single_script_and_allowed_mixes_are_accepted(
    value: str, name: str | None, unicode_name: str | None, why: str
) -> None:
    result = normalize_domain(value)
    assert result.error is None, (why, result.error)
    if name is not None:
        assert result.name == name
    expected_u = unicode_name or unicodedata.normalize("NFC", value).replace("\u3002", ".")
    assert result.unicode_name == expected_u.lower()


# (input, fragments of the error, in order)
IDNA_REASONS = [
    # joiners outside their contexts (RFC 5892 CONTEXTJ), alone or in a Latin label
    ("a\u200db.com", ["IDNA: code point out of its context", "CONTEXTJ", "label 'a\\u200db'",
                      "Joiner U+200D not allowed at position 2"]),
    ("\u200c.com", ["CONTEXTJ", "label '\\u200c'", "U+200C"]),
    ("\u0646\u0627\u0645\u200c.ir", ["CONTEXTJ", "U+200C not allowed at position 4"]),
    ("\u0915\u200d.in", ["CONTEXTJ", "U+200D"]),
    # CONTEXTO: middle dot between non-l letters, keraia not before Greek, lone nakaguro
    ("a\u00b7b.com", ["CONTEXTO", "label 'a\u00b7b'", "U+00B7"]),
    ("\u0375a.gr", ["CONTEXTO", "U+0375"]),
    ("\ud55c\u30fb\uad6d.kr", ["CONTEXTO", "U+30FB"]),
    # the bidi rule (RFC 5893): idna's own message does not name the label
    ("\u05d0a.com", ["IDNA: bidi rule (RFC 5893) violated in label '\u05d0a'",
                     "right-to-left label"]),
    ("1\u05d0.com", ["bidi rule", "label '1\u05d0'", "must be directionality L, R or AL"]),
    ("ab\u05d0.com", ["bidi rule", "label 'ab\u05d0'", "left-to-right label"]),
    # emoji and symbols are DISALLOWED in IDNA 2008, as U-label or as A-label
    ("\U0001f600.com", ["IDNA: disallowed code point (IDNA 2008)", "U+1F600"]),
    ("\U0001f1fa\U0001f1f8.com", ["disallowed code point", "U+1F1FA"]),
    ("i\u2665ny.com", ["disallowed code point", "label 'i\u2665ny'", "U+2665"]),
    ("xn--ls8h.la", ["IDNA: invalid A-label 'xn--ls8h', disallowed code point", "U+1F4A9"]),
    ("xn--1ch.com", ["invalid A-label 'xn--1ch', disallowed code point", "U+2260"]),
    ("b\u00fc cher.de", ["disallowed code point", "label 'b\u00fc cher'", "U+0020"]),
    # generic refusals keep idna's words
    ("xn--zz.com", ["IDNA: invalid A-label 'xn--zz': Invalid A-label"]),
    ("\u0300a.com", ["IDNA: invalid label", "illegal combining character"]),
    ("a" * 64 + "\u00fc.com", ["IDNA: invalid label 'aaaa", "...: Label too long"]),
    ("a..\u00fc.de", ["IDNA: invalid name: Empty Label"]),
]  # fmt: skip


@pytest.mark.parametrize(("value", "fragments"), IDNA_REASONS)
def test_idna_reasons_reach_the_error(value: str, fragments: list[str]) -> None:
    result = normalize_domain(value)
    assert result.name is None and result.error is not None
    position = 0
    for fragment in fragments:
        found = result.error.find(fragment, position)
        assert found >= 0, (fragment, result.error)
        position = found + len(fragment)


def test_kinds_reports_the_same_reasons_for_domains_and_nameservers() -> None:
    for kind in ("auto", "domain", "nameserver"):
        q = normalize_query("p\u0430ypal.com", kind)
        assert q.kind in ("domain", "nameserver") and not q.valid
        assert q.error == normalize_domain("p\u0430ypal.com").error
    ns = normalize_query("ns1.xn--pypal-4ve.com", "nameserver")
    assert ns.error is not None and "mixed scripts in label" in ns.error


def test_ascii_input_never_looks_at_scripts() -> None:
    names._script.cache_clear()
    values = ["example.com", "A-B.Example.ORG.", "a_b.com", "ab--c.de", "xn--bcher-kva.de"]
    results = normalize_domains(values)
    assert [r.valid for r in results] == [True, True, False, False, True]
    # only the A-label was decoded and checked (its "b", "c", "h", "e", "r", "ü")
    info = names._script.cache_info()
    assert info.hits + info.misses == len("bücher")


def test_label_scripts() -> None:
    assert label_scripts("p\u0430ypal") == ["Latin", "Cyrillic"]
    assert label_scripts("123-4") == []
    assert label_scripts("\u00e9\u0301") == ["Latin"]  # combining mark: Inherited
    assert label_scripts("\u65e5\u672c\u30c9\u3072\u30fc") == ["Han", "Katakana", "Hiragana"]
    assert label_scripts("\u0661\u0627") == ["Arabic"]  # Arabic-Indic digit
    assert label_scripts("\U00031350") == ["Han"]  # CJK Ext. H: unnamed before Unicode 15


def _idna_code_points() -> list[str]:
    """Every code point IDNA 2008 lets into a label (PVALID, CONTEXTJ, CONTEXTO)."""
    out: list[str] = []
    for cls in ("PVALID", "CONTEXTJ", "CONTEXTO"):
        for packed in idna.idnadata.codepoint_classes[cls]:
            out.extend(map(chr, range(packed >> 32, packed & 0xFFFFFFFF)))
    return out


# The scripts the homograph check is about, checked against an independent implementation
# of the Unicode Script_Extensions property (Rust's regex crate, through Polars).
ORACLE_SCRIPTS = [
    "Latin", "Greek", "Cyrillic", "Armenian", "Hebrew", "Arabic", "Syriac", "Thaana",
    "Devanagari", "Bengali", "Gurmukhi", "Gujarati", "Tamil", "Telugu", "Kannada",
    "Malayalam", "Sinhala", "Thai", "Lao", "Tibetan", "Myanmar", "Georgian", "Hangul",
    "Ethiopic", "Cherokee", "Khmer", "Mongolian", "Hiragana", "Katakana", "Bopomofo", "Han",
    "Yi", "Coptic", "Grantha", "Yezidi",
]  # fmt: skip


def test_scripts_agree_with_the_unicode_script_extensions_property() -> None:
    chars = [c for c in _idna_code_points() if unicodedata.name(c, "")]
    assert len(chars) > 100_000
    ours = [names._script(c) for c in chars]
    frame = pl.DataFrame({"c": chars, "ours": ours}).with_columns(
        pl.col("c").str.contains(r"^[\p{sc=Common}\p{sc=Inherited}]$").alias("neutral"),
        *(pl.col("c").str.contains(rf"^\p{{scx={s}}}$").alias(s) for s in ORACLE_SCRIPTS),
    )
    checked = wrong = lenient = 0
    examples: list[str] = []
    for row in frame.iter_rows(named=True):
        truth = {s for s in ORACLE_SCRIPTS if row[s]}
        if not truth:
            continue  # a script outside the oracle's list (historic scripts, mostly)
        checked += 1
        ours = row["ours"]
        if ours is None:
            lenient += not row["neutral"]  # e.g. COMBINING CYRILLIC MILLIONS SIGN
        elif ours not in truth or (
            # shared by scripts that may not mix: one of them would be refused
            len(truth) > 1 and not any(truth <= mix for mix in names._ALLOWED_MIXES)
        ):
            wrong += 1
            examples.append(f"U+{ord(row['c']):04X} {ours} {sorted(truth)}")
    assert checked > 100_000
    # a script the character does not have would refuse a legitimate label: none at all
    assert wrong == 0, examples[:20]
    # and Common/Inherited is only claimed for a handful of script-specific marks
    assert lenient < 100, lenient
