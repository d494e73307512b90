"""Normalization of user-supplied domain names into RDAP domain queries.

Every value a researcher hands rdaplab (a CSV cell, a Polars value, a string literal)
goes through :func:`normalize_domain` exactly once. The result says either which
A-label name to query, or why the value is not a domain query at all; invalid values
never raise, they become ``invalid_query`` rows with :attr:`NormalizedName.error` as the
detail.

Rules, in order:

1. only ``str`` values are names: ``None``, NaN, numbers and other objects are invalid;
2. surrounding whitespace is stripped, then one trailing dot (the DNS root) is removed;
3. non-ASCII input is mapped with UTS #46 (non-transitional, STD3 rules) and converted
   to A-labels with IDNA 2008 (the ``idna`` package); its reason is kept when it refuses;
4. the ASCII result must be LDH (letters, digits, hyphen; no hyphen at either end of a
   label; ``--`` in positions 3-4 only as the ``xn--`` prefix, RFC 5890 §2.3.1), labels
   1-63 octets, total at most 253 octets, at least two labels (a bare TLD is not a
   domain), and the TLD not all-numeric (RFC 3696 §2: that is an IPv4 address);
5. ``xn--`` labels are validated by decoding them (RFC 5891 §5.3), which also yields
   the U-label form shown to humans;
6. a label mixing scripts is refused as a likely homograph (``pаypal`` with a Cyrillic
   ``а``), in the spirit of UTS #39 "highly restrictive": one script per label, or a
   subset of Latin+Han+Hiragana+Katakana (Japanese), Latin+Han+Bopomofo (Chinese) or
   Latin+Han+Hangul (Korean); digits, hyphens and combining marks go with any script.
   This holds for A-label input too (``xn--pypal-4ve`` is the same name).

Pure-ASCII input skips the (slow) ``idna`` machinery: for ASCII, UTS #46 mapping is just
lowercasing and STD3 allows only LDH, so rules 3-4 reduce to a regular expression, and
rule 6 only concerns ``xn--`` labels. The tests check that both paths agree.

An IDNA refusal is reported as ``IDNA: <what was wrong> in label '<label>': <idna's
message>`` (what was wrong: a disallowed code point, a joiner or other code point out of
its RFC 5892 context, the RFC 5893 bidi rule, or an invalid label/A-label).
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import idna

__all__ = ["NormalizedName", "label_scripts", "normalize_domain", "normalize_domains"]

MAX_LABEL_OCTETS = 63
MAX_NAME_OCTETS = 253  # without the trailing root dot (RFC 1035 §2.3.4 allows 255 on the wire)

# A whole name of LDH labels with no "--" anywhere: the overwhelmingly common case,
# accepted without looking at labels one by one.
_FAST_NAME = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
)
_LDH_LABEL = re.compile(r"[a-z0-9-]+")

# --------------------------------------------------------------------------- scripts
# Python has no Unicode Script property, but character names start with the script for
# nearly every code point IDNA 2008 allows ("CYRILLIC SMALL LETTER A", "CJK UNIFIED
# IDEOGRAPH-4E00", "HANGUL SYLLABLE GA"). The exceptions below were found by comparing
# every PVALID/CONTEXT code point with the Script_Extensions classes of Rust's regex
# (tests/rdap/test_names_idn.py repeats that comparison through Polars).

# First words of Common/Inherited code points: combining marks, digits, joiners, ...
_NEUTRAL_WORDS = frozenset(
    {"COMBINING", "ZERO", "DIGIT", "HYPHEN-MINUS", "MIDDLE", "MODIFIER", "VERTICAL",
     "CARON", "TURNED", "MASU", "VEDIC", "ZNAMENNY"}
)  # fmt: skip
# First words that are not the script's own name.
_SCRIPT_ALIASES = {
    "CJK": "Han",
    "IDEOGRAPHIC": "Han",
    "VIETNAMESE": "Han",  # VIETNAMESE ALTERNATE READING MARK
    "KATAKANA-HIRAGANA": "Katakana",  # the prolonged sound mark: Japanese either way
    "HENTAIGANA": "Hiragana",
    "ARABIC-INDIC": "Arabic",  # (EXTENDED) ARABIC-INDIC DIGIT ...
}
# Scripts whose name takes two words ("OLD ITALIC" and "OLD PERSIAN" differ).
_TWO_WORD_SCRIPTS = frozenset(
    {"OLD", "TAI", "NEW", "CANADIAN", "MEETEI", "OL", "SYLOTI", "KAYAH", "INSCRIPTIONAL",
     "CAUCASIAN", "MASARAM", "GUNJALA", "HANIFI", "PAHAWH", "NYIAKENG", "MENDE", "SORA",
     "PAU", "WARANG", "ZANABAZAR", "PSALTER", "DIVES", "IMPERIAL", "EGYPTIAN", "ANATOLIAN",
     "LINEAR"}
)  # fmt: skip
# Combining marks named after their script ("COMBINING CYRILLIC TITLO").
_MARK_SCRIPTS = frozenset({"CYRILLIC", "DEVANAGARI", "LATIN", "GREEK"})
# Characters whose Script_Extensions hold several scripts not allowed together (Arabic
# vowel marks and digits also serve Syriac/Thaana, Tamil digits Grantha, the katakana
# middle dot Chinese and Korean, ...): giving them one script would refuse legitimate
# labels of the others, so they count as Common.
_SHARED_RANGES = (
    (0x0375, 0x0375), (0x0485, 0x0486), (0x064B, 0x0655), (0x0660, 0x0669),
    (0x0670, 0x0670), (0x0951, 0x0952), (0x0BE6, 0x0BEF), (0x30FB, 0x30FB),
    (0xA8F1, 0xA8F1), (0xA8F3, 0xA8F3), (0x102E0, 0x102E0), (0x11301, 0x11301),
    (0x11303, 0x11303), (0x1133C, 0x1133C),
)  # fmt: skip
_NEUTRAL_CHARS = frozenset(chr(c) for lo, hi in _SHARED_RANGES for c in range(lo, hi + 1))

# UTS #39 "highly restrictive": a label of several scripts is accepted when one of these
# sets covers them (Japanese, Chinese with Bopomofo, Korean).
_ALLOWED_MIXES = (
    frozenset({"Latin", "Han", "Hiragana", "Katakana"}),
    frozenset({"Latin", "Han", "Bopomofo"}),
    frozenset({"Latin", "Han", "Hangul"}),
)


@functools.lru_cache(maxsize=4096)
def _script(ch: str) -> str | None:
    """The script of one character, ``None`` for Common/Inherited ones.

    Characters newer than Python's Unicode database have no name: they count as Common
    (never refused), except unnamed ideographs of planes 2-3 (new CJK extensions), Han.
    """
    if ch < "\x80":
        return "Latin" if ch.isalpha() else None
    if ch in _NEUTRAL_CHARS:
        return None
    name = unicodedata.name(ch, "")
    if not name:
        return "Han" if 0x20000 <= ord(ch) <= 0x3FFFF else None
    words = name.split(" ", 3)
    first = words[0]
    if first == "EXTENDED" and len(words) > 1:  # EXTENDED ARABIC-INDIC DIGIT ZERO
        first = words[1]
    if first in _NEUTRAL_WORDS:
        if first == "COMBINING" and len(words) > 1 and words[1] in _MARK_SCRIPTS:
            return words[1].title()
        return None
    alias = _SCRIPT_ALIASES.get(first)
    if alias is not None:
        return alias
    if first in _TWO_WORD_SCRIPTS and len(words) > 1:
        if first == "OLD" and words[1] == "CHINESE":  # OLD CHINESE ITERATION MARK
            return "Han"
        return f"{first} {words[1]}".title()
    return first.title()


def label_scripts(label: str) -> list[str]:
    """The scripts of a U-label's characters, in order of first appearance.

    Common and Inherited characters (digits, hyphen, combining marks, joiners) have no
    script and are left out.

    Parameters
    ----------
    label
        One label (U-label or ASCII).

    Returns
    -------
    list[str]
        Script names such as ``"Latin"``, ``"Cyrillic"``, ``"Han"``.

    Examples
    --------
    >>> label_scripts("p\\u0430ypal")
    ['Latin', 'Cyrillic']
    """
    seen: list[str] = []
    for ch in label:
        script = _script(ch)
        if script is not None and script not in seen:
            seen.append(script)
    return seen


def _mixed_script_error(label: str, alabel: str) -> str | None:
    """Why ``label`` (a U-label, ``alabel`` its A-label) mixes scripts, or None."""
    scripts = label_scripts(label)
    if len(scripts) < 2:
        return None
    found = set(scripts)
    if any(found <= mix for mix in _ALLOWED_MIXES):
        return None
    # Name the first character of each later script: the reader cannot see a homograph.
    shown = [scripts[0]]
    for script in scripts[1:]:
        ch = next(c for c in label if _script(c) == script)
        shown.append(f"{script} U+{ord(ch):04X}")
    return (
        f"mixed scripts in label {label!r} = {alabel} ({', '.join(shown)}): "
        "refused as a likely homograph (UTS #39)"
    )


def _idna_problem(exc: BaseException) -> str | None:
    """What an ``idna`` exception is about, in words (its message says where); None for
    the generic ones (empty or long label, bad Punycode), whose message says it all."""
    if isinstance(exc, idna.IDNABidiError):
        return "bidi rule (RFC 5893) violated"
    if isinstance(exc, idna.InvalidCodepointContext):
        return "code point out of its context (RFC 5892 CONTEXTJ/CONTEXTO)"
    if isinstance(exc, idna.InvalidCodepoint):
        return "disallowed code point (IDNA 2008)"
    return None


def _shown(label: str) -> str:
    return repr(label) if len(label) <= 40 else f"{label[:37]!r}..."


# The label separators UTS #46 maps to "." (full stop, ideographic, fullwidth, halfwidth).
_DOTS = re.compile("[.\u3002\uff0e\uff61]")


def _idna_failure(text: str, exc: UnicodeError) -> str:
    """The ``error`` text for a name ``idna.encode`` refused: what, where, idna's words."""
    # idna's message does not always name the label (bidi errors never do): find the
    # first label refused on its own. Error path only, so the extra encodes are fine.
    for label in _DOTS.split(text):
        if not label:
            continue
        try:
            idna.encode(label, uts46=True, std3_rules=True, transitional=False)
        except UnicodeError as own:
            what = _idna_problem(own)
            where = f"label {_shown(label)}"
            return f"IDNA: {what} in {where}: {own}" if what else f"IDNA: invalid {where}: {own}"
    what = _idna_problem(exc)
    return f"IDNA: {what or 'invalid name'}: {exc}"


@dataclass(frozen=True, slots=True)
class NormalizedName:
    """The outcome of normalizing one user-supplied value.

    Attributes
    ----------
    raw
        The value exactly as given.
    name
        A-label form, lowercase, without trailing dot; ``None`` when invalid.
    unicode_name
        U-label form for display (equals ``name`` for pure-ASCII names); ``None`` when
        invalid.
    tld
        The last label of ``name`` (A-label); ``None`` when invalid.
    error
        Human-readable reason when invalid, ``None`` otherwise.
    """

    raw: object
    name: str | None
    unicode_name: str | None
    tld: str | None
    error: str | None

    @property
    def valid(self) -> bool:
        """``True`` when the value is a usable domain query."""
        return self.error is None


def _invalid(raw: object, reason: str) -> NormalizedName:
    return NormalizedName(raw, None, None, None, reason)


def _check_ascii(raw: object, name: str) -> NormalizedName:
    """Validate a lowercase ASCII name (no trailing dot) label by label."""
    if not name:
        return _invalid(raw, "empty name")
    if any(c.isspace() for c in name):
        return _invalid(raw, f"contains whitespace: {name!r}")
    if len(name) > MAX_NAME_OCTETS:
        return _invalid(raw, f"name is {len(name)} octets long (at most {MAX_NAME_OCTETS})")
    labels = name.split(".")
    if len(labels) < 2:
        return _invalid(
            raw, f"{name!r} is a bare TLD, not a domain name (need at least two labels)"
        )
    unicode_labels: list[str] = []
    for label in labels:
        if not label:
            return _invalid(
                raw, f"empty label in {name!r} (leading dot, '..' or two trailing dots)"
            )
        if len(label) > MAX_LABEL_OCTETS:
            return _invalid(
                raw, f"label {label[:20]!r}... is {len(label)} octets (at most {MAX_LABEL_OCTETS})"
            )
        if not _LDH_LABEL.fullmatch(label):
            return _invalid(
                raw, f"label {label!r} has characters other than letters, digits and hyphen"
            )
        if label[0] == "-" or label[-1] == "-":
            return _invalid(raw, f"label {label!r} starts or ends with a hyphen")
        if label[2:4] == "--":
            if not label.startswith("xn--"):
                # RFC 5890 §2.3.1: non-"xn--" R-LDH labels are reserved, not ordinary LDH.
                return _invalid(raw, f"label {label!r} has '--' in positions 3-4 (reserved)")
            try:
                ulabel = idna.ulabel(label)
            except idna.IDNAError as exc:
                what = _idna_problem(exc)
                why = f", {what}: {exc}" if what else f": {exc}"
                return _invalid(raw, f"IDNA: invalid A-label {label!r}{why}")
            # Checked on the decoded label whatever the input's spelling: an A-label is
            # the same name as its U-label and gets the same verdict (else the homograph
            # is only one copy-paste of its xn-- form away, and normalize_domains would
            # accept a name under one spelling and refuse it under the other).
            mixed = _mixed_script_error(ulabel, label)
            if mixed is not None:
                return _invalid(raw, mixed)
            unicode_labels.append(ulabel)
            continue
        unicode_labels.append(label)
    if labels[-1].isdigit():
        return _invalid(raw, f"TLD {labels[-1]!r} is all-numeric (an IP address is not a domain)")
    return NormalizedName(raw, name, ".".join(unicode_labels), labels[-1], None)


def normalize_domain(value: object) -> NormalizedName:
    """Normalize one value into an RDAP domain query (A-label, lowercase, no root dot).

    Never raises: invalid values come back with ``name=None`` and a reason in ``error``.

    Parameters
    ----------
    value
        Anything; only ``str`` values can be domain names.

    Returns
    -------
    NormalizedName
        ``name``/``unicode_name``/``tld`` for a valid name, ``error`` otherwise.

    Examples
    --------
    >>> normalize_domain(" Bücher.DE. ").name
    'xn--bcher-kva.de'
    >>> normalize_domain("com").error
    "'com' is a bare TLD, not a domain name (need at least two labels)"
    """
    if not isinstance(value, str):
        if value is None:
            return _invalid(value, "missing value (None)")
        if isinstance(value, float) and math.isnan(value):
            return _invalid(value, "missing value (NaN)")
        return _invalid(value, f"not a string: {type(value).__name__} {value!r:.60}")
    text = value.strip()
    if not text:
        return _invalid(value, "empty name")
    if text.isascii():
        name = text.lower()
        if name[-1] == ".":
            name = name[:-1]
        # Fast path: no idna call at all for plain LDH names (the common case).
        if (
            len(name) <= MAX_NAME_OCTETS
            and "--" not in name
            and _FAST_NAME.fullmatch(name)
            and not (tld := name[name.rfind(".") + 1 :]).isdigit()
        ):
            return NormalizedName(value, name, name, tld, None)
        return _check_ascii(value, name)
    # Slow path: UTS #46 mapping (case folding, full-width forms, ideographic dots...)
    # and IDNA 2008 validation of every Unicode label.
    try:
        encoded = idna.encode(text, uts46=True, std3_rules=True, transitional=False)
    except UnicodeError as exc:  # idna.IDNAError and its subclasses are UnicodeErrors
        return _invalid(value, _idna_failure(text, exc))
    name = encoded.decode("ascii")
    if name.endswith("."):
        name = name[:-1]
    return _check_ascii(value, name)


def normalize_domains(values: Iterable[object]) -> list[NormalizedName]:
    """Normalize many values, computing each distinct string only once.

    Parameters
    ----------
    values
        Any iterable (list, Polars Series, generator).

    Returns
    -------
    list[NormalizedName]
        One result per input value, in input order; repeated strings share one
        (immutable) result object.
    """
    memo: dict[str, NormalizedName] = {}
    out: list[NormalizedName] = []
    append = out.append
    for value in values:
        # Only exact ``str`` is memoized: keys like 1, 1.0 and True compare equal in a
        # dict, and their results must keep their own ``raw``.
        if type(value) is str:
            hit = memo.get(value)
            if hit is None:
                hit = memo[value] = normalize_domain(value)
            append(hit)
        else:
            append(normalize_domain(value))
    return out
