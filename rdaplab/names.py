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
   the U-label form shown to humans.

Pure-ASCII input skips the (slow) ``idna`` machinery: for ASCII, UTS #46 mapping is just
lowercasing and STD3 allows only LDH, so rules 3-4 reduce to a regular expression. The
tests check that both paths agree.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

import idna

__all__ = ["NormalizedName", "normalize_domain", "normalize_domains"]

MAX_LABEL_OCTETS = 63
MAX_NAME_OCTETS = 253  # without the trailing root dot (RFC 1035 §2.3.4 allows 255 on the wire)

# A whole name of LDH labels with no "--" anywhere: the overwhelmingly common case,
# accepted without looking at labels one by one.
_FAST_NAME = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
)
_LDH_LABEL = re.compile(r"[a-z0-9-]+")


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
                unicode_labels.append(idna.ulabel(label))
            except idna.IDNAError as exc:
                return _invalid(raw, f"IDNA: invalid A-label {label!r}: {exc}")
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
        return _invalid(value, f"IDNA: {exc}")
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
