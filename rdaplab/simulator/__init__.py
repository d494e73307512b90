"""A loopback RDAP registry simulator: many virtual registries serving templated real answers.

Each virtual registry listens on its own 127.0.0.1 port (the client keys its per-host limiter
on ``host:port``) under its own path prefix, and answers ``GET {base}domain/{NAME}`` with a
real response from ``datasets/responses`` whose name-dependent fields are rewritten
deterministically. Registries of role ``"rir"`` answer ``ip``, ``autnum`` and ``entity``
queries the same way from their RIR's real answers, and domain registries answer
``nameserver`` queries for hosts under their TLDs (see ``docs/simulator.md``). Faults (rate limits, 5xx, truncated bodies, slow bodies, dropped
connections, dead hosts) come from a :class:`Scenario`. Every per-request decision is a
stable hash of ``(seed, registry, path, attempt number)``, so a run does not depend on the
order in which concurrent requests arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import email.utils
import hashlib
import ipaddress
import itertools
import json
import math
import re
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import idna
import msgspec
from aiohttp import web

from rdaplab._data import bootstrap_dir, datasets_dir, responses_dir

__all__ = [
    "REGISTRARS",
    "RIRS",
    "ExpectedDomain",
    "ExpectedObject",
    "RegistrySpec",
    "RegistryStats",
    "Scenario",
    "Simulator",
    "SimulatorThread",
    "run_forever",
    "stats_to_json",
]

RDAP_JSON = "application/rdap+json"

#: Real ICANN-accredited registrars (name, IANA Registrar ID) handed out to simulated names.
REGISTRARS: tuple[tuple[str, str], ...] = (
    ("MarkMonitor Inc.", "292"),
    ("NameCheap, Inc.", "1068"),
    ("GoDaddy.com, LLC", "146"),
    ("Tucows Domains Inc.", "69"),
    ("Gandi SAS", "81"),
    ("OVH sas", "433"),
    ("Cloudflare, Inc.", "1910"),
    ("Network Solutions, LLC", "2"),
)

#: DNS hosting providers for the simulated nameservers (``ns1.<provider>``).
NS_PROVIDERS: tuple[str, ...] = (
    "cloudflare.com",
    "domaincontrol.com",
    "registrar-servers.com",
    "awsdns-17.net",
    "nsone.net",
    "ovh.net",
    "gandi.net",
    "dnsmadeeasy.com",
    "ultradns.org",
    "hostinger.info",
)

#: The five Regional Internet Registries a ``role: "rir"`` registry can stand for.
RIRS: tuple[str, ...] = ("afrinic", "apnic", "arin", "lacnic", "ripe")

_ROLES = ("registry", "registrar", "rir")
_OBJECT_KINDS = ("ip", "autnum", "entity", "nameserver")
_KIND_ALIASES = {"asn": "autnum", "network": "ip", "ns": "nameserver"}
_NS_QUERIES = ("serve", "404", "501")
_NOT_FOUND = ("rdap", "empty")
_RETRY_AFTER = ("seconds", "http-date", "none")
_CONC_MODES = ("reject", "queue")
_THROTTLE_STYLES = ("429", "403-html", "422-rdap", "200-notice", "429-notice")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_LDH_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_DATE_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$")
_EPOCH = datetime(1995, 1, 1, tzinfo=timezone.utc)
_NOW = datetime(2025, 12, 31, tzinfo=timezone.utc)  # fixed "today": output must not drift


# --------------------------------------------------------------------------- scenario


@dataclass
class RegistrySpec:
    """One virtual registry (or registrar) and its behaviour; see ``datasets/scenarios``."""

    name: str
    tlds: list[str] = field(default_factory=list)
    template: str = ""  # relative to datasets/responses (or absolute); RIRs: optional
    role: str = "registry"
    refer_to: str | list[str] | None = None
    not_found: str = "rdap"
    not_found_template: str | None = None
    not_found_rate: float = 0.0
    rate_limit: dict[str, float] | None = None  # {"rate_per_s": r, "burst": b}
    retry_after: str = "seconds"
    throttle_style: str = "429"
    concurrency_limit: int | None = None
    concurrency_mode: str = "reject"
    concurrency_status: int = 429
    latency_ms: dict[str, float] | None = None  # {"mean": m, "jitter": j}
    error_rate: float = 0.0
    malformed_rate: float = 0.0
    slow_body_rate: float = 0.0
    slow_body_ms: float = 500.0
    drop_rate: float = 0.0
    dead: bool = False
    # Daily quota (RIPE / AFRINIC / LACNIC style): requests per simulated day.
    daily_quota: int | None = None
    quota_day_s: float = 86400.0
    # Escalation: ``block_after`` throttled answers within ``block_window_s`` start a block.
    block_after: int | None = None
    block_window_s: float = 60.0
    block_s: float = 3600.0
    # Registrar identity served for names referred to this registrar (role "registrar").
    registrar_name: str | None = None
    registrar_iana_id: str | None = None
    # Role "rir": which RIR, the number resources it is authoritative for, its RFC 8521
    # object tags (None: the RIR's name upper-cased) and its templates (None: every real
    # answer of that class in datasets/responses/<rir>/).
    rir: str | None = None
    ip_ranges: list[str] = field(default_factory=list)
    asn_ranges: list[str | int] = field(default_factory=list)
    entity_tags: list[str] | None = None
    ip_templates: list[str] | None = None
    autnum_templates: list[str] | None = None
    entity_templates: list[str] | None = None
    # "serve" (registries: hosts under their TLDs), "404" or "501" (RIPE's real body for a
    # ripe RIR); None picks "serve" for registries and "501" for registrars and RIRs.
    nameserver_queries: str | None = None
    # Personal-data quota (RIPE / AFRINIC style): person objects served per simulated day.
    person_quota: int | None = None

    @property
    def referrals(self) -> list[str]:
        if self.refer_to is None:
            return []
        return [self.refer_to] if isinstance(self.refer_to, str) else list(self.refer_to)


def _template_path(rel: str) -> Path:
    p = Path(rel)
    return p if p.is_absolute() else responses_dir() / p


def _spec_from_mapping(raw: Any, index: int) -> RegistrySpec:
    where = f"registries[{index}]"
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: expected an object, got {type(raw).__name__}")
    known = {f.name for f in fields(RegistrySpec)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {unknown}; known: {sorted(known)}")
    required = ("name", "rir") if raw.get("role") == "rir" else ("name", "tlds", "template")
    for key in required:
        if key not in raw:
            raise ValueError(f"{where}: missing required field {key!r}")
    spec = RegistrySpec(**dict(raw))
    where = f"registry {spec.name!r}"
    if not isinstance(spec.name, str) or not _NAME_RE.match(spec.name):
        raise ValueError(f"{where}: name must match {_NAME_RE.pattern}")
    if not isinstance(spec.tlds, list) or not all(isinstance(t, str) and t for t in spec.tlds):
        raise ValueError(f"{where}: tlds must be a list of non-empty strings")
    spec.tlds = [t.lower().strip(".") for t in spec.tlds]
    if spec.role == "registry" and not spec.tlds:
        raise ValueError(f"{where}: a registry needs at least one TLD")
    for attr, allowed in (
        ("role", _ROLES),
        ("not_found", _NOT_FOUND),
        ("retry_after", _RETRY_AFTER),
        ("concurrency_mode", _CONC_MODES),
        ("throttle_style", _THROTTLE_STYLES),
    ):
        if getattr(spec, attr) not in allowed:
            raise ValueError(f"{where}: {attr} must be one of {allowed}")
    for attr in ("not_found_rate", "error_rate", "malformed_rate", "slow_body_rate", "drop_rate"):
        value = getattr(spec, attr)
        if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise ValueError(f"{where}: {attr} must be a number in [0, 1]")
    if spec.rate_limit is not None:
        rate = spec.rate_limit.get("rate_per_s") if isinstance(spec.rate_limit, dict) else None
        if not isinstance(rate, (int, float)) or rate <= 0:
            raise ValueError(f"{where}: rate_limit needs a positive rate_per_s")
        burst = spec.rate_limit.get("burst", max(1.0, rate))
        if not isinstance(burst, (int, float)) or burst < 1:
            raise ValueError(f"{where}: rate_limit burst must be >= 1")
    if spec.concurrency_limit is not None and (
        not isinstance(spec.concurrency_limit, int) or spec.concurrency_limit < 1
    ):
        raise ValueError(f"{where}: concurrency_limit must be a positive integer")
    for attr in ("daily_quota", "block_after"):
        value = getattr(spec, attr)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 1
        ):
            raise ValueError(f"{where}: {attr} must be a positive integer or null")
    for attr in ("quota_day_s", "block_window_s", "block_s"):
        value = getattr(spec, attr)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{where}: {attr} must be a positive number of seconds")
    if spec.concurrency_status not in (429, 503):
        raise ValueError(f"{where}: concurrency_status must be 429 or 503")
    _check_rir_fields(spec, where)
    if spec.latency_ms is not None and (
        not isinstance(spec.latency_ms, dict)
        or not isinstance(spec.latency_ms.get("mean", 0), (int, float))
        or not isinstance(spec.latency_ms.get("jitter", 0), (int, float))
    ):
        raise ValueError(f"{where}: latency_ms must be {{'mean': ms, 'jitter': ms}}")
    if spec.refer_to is not None and not (
        isinstance(spec.refer_to, str)
        or (
            isinstance(spec.refer_to, list)
            and spec.refer_to
            and all(isinstance(r, str) for r in spec.refer_to)
        )
    ):
        raise ValueError(f"{where}: refer_to must be a registrar name or a non-empty list")
    for rel in (spec.template, spec.not_found_template):
        if rel is not None and not (isinstance(rel, str) and _template_path(rel).is_file()):
            raise ValueError(f"{where}: template {rel!r} not found under {responses_dir()}")
    return spec


_RIR_ONLY = (
    "rir",
    "ip_ranges",
    "asn_ranges",
    "entity_tags",
    "ip_templates",
    "autnum_templates",
    "entity_templates",
)
_CLASS_OF = {"ip": "ip network", "autnum": "autnum", "entity": "entity"}
_TAG_RE = re.compile(r"^[A-Za-z0-9]+$")


def _loose_address(value: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """A template's start/end address despite its quirks (zero padding, ``/len`` suffix)."""
    if not isinstance(value, str):
        return None
    text = value.split("/", 1)[0].strip()
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(text)
    parts = text.split(".")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        with contextlib.suppress(ValueError):
            return ipaddress.IPv4Address(".".join(str(int(p)) for p in parts))
    return None


def _template_problem(path: Path, kind: str) -> str | None:
    """Why ``path`` cannot template ``kind`` answers (ip, autnum, entity), or None."""
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        return f"cannot be read as JSON ({exc})"
    if not isinstance(doc, dict) or "errorCode" in doc:
        return "is not an RDAP object"
    ocn = doc.get("objectClassName")
    if ocn is not None and ocn != _CLASS_OF[kind]:  # older RIPE answers have none
        return f"is a {ocn!r} object, not {_CLASS_OF[kind]!r}"
    if kind == "ip" and (
        _loose_address(doc.get("startAddress")) is None
        or _loose_address(doc.get("endAddress")) is None
    ):
        return "has no usable startAddress/endAddress"
    if kind == "autnum" and "startAutnum" not in doc:
        return "has no startAutnum"
    if kind == "entity" and not isinstance(doc.get("handle"), str):
        return "has no handle"
    return None


def _default_templates(rir: str, kind: str) -> list[str]:
    """Every real answer of ``kind`` from ``rir`` (LACNIC entities: NIC.br's, its NIR)."""
    dirs = [rir, "registro-br"] if rir == "lacnic" else [rir]
    for folder in dirs:
        found = [
            f"{folder}/{p.name}"
            for p in sorted((responses_dir() / folder).glob(f"{kind}-*.json"))
            if _template_problem(p, kind) is None  # skips e.g. APNIC's ip-history-*
        ]
        if found:
            return found
    return []


def _asn_range(value: object) -> tuple[int, int]:
    """``"start-end"``, ``"n"`` or an int -> (start, end); ValueError otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        lo = hi = value
    elif isinstance(value, str):
        first, sep, last = value.strip().partition("-")
        lo = int(first)
        hi = int(last) if sep else lo
    else:
        raise ValueError(f"{value!r} is not an AS number or 'start-end' range")
    if not 0 <= lo <= hi <= 4_294_967_295:
        raise ValueError(f"{value!r} is not a range of 32-bit AS numbers")
    return lo, hi


def _check_rir_fields(spec: RegistrySpec, where: str) -> None:
    """Validate (and fill in the defaults of) the role-"rir" and object-query fields."""
    if spec.nameserver_queries is None:
        spec.nameserver_queries = "serve" if spec.role == "registry" else "501"
    if spec.nameserver_queries not in _NS_QUERIES:
        raise ValueError(f"{where}: nameserver_queries must be one of {_NS_QUERIES}")
    if spec.nameserver_queries == "serve" and spec.role != "registry":
        raise ValueError(f"{where}: only a registry can serve nameserver queries (use 404/501)")
    if spec.person_quota is not None and (
        not isinstance(spec.person_quota, int)
        or isinstance(spec.person_quota, bool)
        or spec.person_quota < 1
    ):
        raise ValueError(f"{where}: person_quota must be a positive integer or null")
    if spec.role != "rir":
        for attr in _RIR_ONLY:
            if getattr(spec, attr) not in (None, []):
                raise ValueError(f"{where}: {attr} is only for role 'rir'")
        return
    if spec.rir not in RIRS:
        raise ValueError(f"{where}: rir must be one of {RIRS}")
    if spec.tlds:
        raise ValueError(f"{where}: a rir serves no TLDs (leave tlds out or give [])")
    if spec.refer_to is not None:
        raise ValueError(f"{where}: a rir refers to no registrar (drop refer_to)")
    if not isinstance(spec.ip_ranges, list) or not isinstance(spec.asn_ranges, list):
        raise ValueError(f"{where}: ip_ranges and asn_ranges must be lists")
    for text in spec.ip_ranges:
        try:
            if not isinstance(text, str):
                raise ValueError("not a string")
            ipaddress.ip_network(text, strict=True)
        except ValueError as exc:
            raise ValueError(
                f"{where}: ip_ranges entry {text!r} is not a CIDR prefix ({exc})"
            ) from None
    for value in spec.asn_ranges:
        try:
            _asn_range(value)
        except ValueError as exc:
            raise ValueError(f"{where}: asn_ranges entry {value!r}: {exc}") from None
    if not spec.ip_ranges and not spec.asn_ranges:
        raise ValueError(f"{where}: a rir needs ip_ranges and/or asn_ranges")
    if spec.entity_tags is None:
        spec.entity_tags = [spec.rir.upper()]
    if not isinstance(spec.entity_tags, list) or not all(
        isinstance(t, str) and _TAG_RE.match(t) for t in spec.entity_tags
    ):
        raise ValueError(f"{where}: entity_tags must be a list of tags such as ['ARIN']")
    spec.entity_tags = [t.upper() for t in spec.entity_tags]
    for kind in ("ip", "autnum", "entity"):
        attr = f"{kind}_templates"
        paths = getattr(spec, attr)
        if paths is None:
            paths = _default_templates(spec.rir, kind)
            setattr(spec, attr, paths)
        if not isinstance(paths, list) or not all(isinstance(v, str) for v in paths):
            raise ValueError(f"{where}: {attr} must be a list of template paths")
        for rel in paths:
            path = _template_path(rel)
            problem = "not found" if not path.is_file() else _template_problem(path, kind)
            if problem is not None:
                raise ValueError(f"{where}: {attr} entry {rel!r} {problem}")
    if spec.ip_ranges and not spec.ip_templates:
        raise ValueError(f"{where}: ip_ranges given but no ip_templates")
    if spec.asn_ranges and not spec.autnum_templates:
        raise ValueError(f"{where}: asn_ranges given but no autnum_templates")
    if not spec.template:
        spec.template = (spec.ip_templates or spec.autnum_templates or [""])[0]


def _check_rir_overlaps(specs: list[RegistrySpec]) -> None:
    """RIRs of one scenario must not share addresses, AS numbers or object tags."""
    rirs = [s for s in specs if s.role == "rir"]
    nets = [(ipaddress.ip_network(t), s.name) for s in rirs for t in s.ip_ranges]
    for i, (a, an) in enumerate(nets):
        for b, bn in nets[i + 1 :]:
            if a.version == b.version and a.overlaps(b):
                raise ValueError(f"scenario: ip range {a} of {an} overlaps {b} of {bn}")
    spans = sorted((*_asn_range(v), s.name) for s in rirs for v in s.asn_ranges)
    for (_, hi, an), (lo, _, bn) in itertools.pairwise(spans):
        if lo <= hi:
            raise ValueError(f"scenario: AS ranges of {an} and {bn} overlap (at AS{lo})")
    owner: dict[str, str] = {}
    for s in rirs:
        for tag in s.entity_tags or []:
            if tag in owner and owner[tag] != s.name:
                raise ValueError(f"scenario: entity tag {tag!r} used by {owner[tag]} and {s.name}")
            owner[tag] = s.name


@dataclass
class Scenario:
    """A set of virtual registries plus the seed of every pseudo-random decision."""

    registries: list[RegistrySpec]
    seed: int = 0

    @classmethod
    def load(cls, source: Scenario | str | Path | Mapping[str, Any]) -> Scenario:
        """Build a scenario from a JSON file path or an equivalent mapping.

        Parameters
        ----------
        source
            Path to a scenario JSON file, or a mapping ``{"seed": int, "registries": [...]}``.

        Raises
        ------
        ValueError
            On unreadable JSON, unknown or ill-typed fields, duplicate names or TLDs,
            referrals to unknown registrars, or templates that do not exist.
        """
        if isinstance(source, Scenario):
            return source
        if isinstance(source, (str, Path)):
            path = Path(source)
            try:
                raw: Any = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise ValueError(f"scenario file not found: {path}") from None
            except json.JSONDecodeError as exc:
                raise ValueError(f"scenario file {path} is not valid JSON: {exc}") from None
        elif isinstance(source, Mapping):
            raw = source
        else:
            raise ValueError(f"cannot load a scenario from {type(source).__name__}")
        if not isinstance(raw, Mapping):
            raise ValueError("a scenario must be a JSON object with a 'registries' list")
        extra = sorted(set(raw) - {"registries", "seed", "description"})
        if extra:
            raise ValueError(f"scenario: unknown field(s) {extra}")
        regs = raw.get("registries")
        if not isinstance(regs, list) or not regs:
            raise ValueError("scenario: 'registries' must be a non-empty list")
        seed = raw.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ValueError("scenario: 'seed' must be an integer")
        specs = [_spec_from_mapping(r, i) for i, r in enumerate(regs)]
        names = [s.name for s in specs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"scenario: duplicate registry name(s) {dupes}")
        owner: dict[str, str] = {}
        for s in specs:
            if s.role != "registry":
                continue
            for tld in s.tlds:
                if tld in owner:
                    raise ValueError(f"scenario: TLD {tld!r} served by {owner[tld]} and {s.name}")
                owner[tld] = s.name
        _check_rir_overlaps(specs)
        by_name = {s.name: s for s in specs}
        for s in specs:
            for target in s.referrals:
                if target not in by_name or by_name[target].role != "registrar":
                    raise ValueError(
                        f"registry {s.name!r}: refer_to {target!r} is not a registrar here"
                    )
        return cls(registries=specs, seed=seed)

    @classmethod
    def default(cls) -> Scenario:
        """The demo scenario, ``datasets/scenarios/default.json``."""
        return cls.load(datasets_dir() / "scenarios" / "default.json")


# --------------------------------------------------------------------------- deterministic values


def _h(*parts: object) -> int:
    """Stable 64-bit hash (Python's hash() is salted per process)."""
    data = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def _unit(*parts: object) -> float:
    return _h(*parts) / 2.0**64


def _add_years(dt: datetime, years: int) -> datetime:
    try:
        return dt.replace(year=dt.year + years)
    except ValueError:  # 29 February
        return dt.replace(year=dt.year + years, day=28)


@dataclass
class ExpectedDomain:
    """What the simulator serves for one existing name (compare normalized frames to this).

    A field is None when neither the registry nor the registrar template carries it (a
    real quirk kept on purpose: e.g. Norid publishes no expiration, PIR no handle).
    Dates are whole-second UTC datetimes; registrars that print dates without a zone
    (Namecheap) print the UTC wall time.
    """

    name: str  # lower-case A-label, no trailing dot
    unicode_name: str
    handle: str | None
    registrar: str | None
    registrar_iana_id: str | None
    registration_date: datetime | None
    expiration_date: datetime | None
    last_changed_date: datetime | None
    nameservers: list[str]
    registry: str
    registrar_url: str | None


@dataclass
class _Plan:
    """The name-dependent values, computed once and shared by registry and registrar."""

    key: str  # lower-case A-label, no trailing dot
    unicode: str
    handle_seed: int
    registered: datetime
    expires: datetime
    changed: datetime
    nameservers: list[str]
    registrar: tuple[str, str]
    referral: str | None  # registrar registry name


@dataclass
class RegistryStats:
    """Request counters of one virtual registry."""

    requests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    throttled: int = 0
    peak_in_flight: int = 0
    in_flight: int = 0
    dropped: int = 0
    quota_rejections: int = 0  # 429 "Quota exceeded" answers (not counted in ``throttled``)
    blocks: int = 0  # times an escalation block started
    blocked: int = 0  # requests answered 403 while blocked (not counted in ``throttled``)
    # Requests by the first path segment: "domain", "ip", "autnum", "entity",
    # "nameserver", "help" or "other".
    by_kind: dict[str, int] = field(default_factory=dict)
    persons_served: int = 0  # person objects carried by 200 answers (see person_quota)
    person_quota_rejections: int = 0  # 429 answers once person_quota was spent


def _normalize(name: str) -> tuple[str, str] | None:
    """(A-label key, U-label) for a domain name, or None when it is not a valid name."""
    name = name.strip()
    if name.endswith("."):
        name = name[:-1]  # one trailing dot is the root; two is an empty label
    if not name or name.endswith("."):
        return None
    try:
        alabel = idna.encode(name, uts46=True).decode("ascii").lower()
        ulabel = idna.decode(alabel)
    except (idna.IDNAError, UnicodeError, ValueError):
        return None
    labels = alabel.split(".")
    if len(alabel) > 253 or len(labels) < 2 or not all(_LDH_LABEL.match(lb) for lb in labels):
        return None
    return alabel, ulabel


# --------------------------------------------------------------------------- templating


class _Template:
    """A response template parsed once; ``fresh()`` returns an independent deep copy."""

    def __init__(self, path: Path) -> None:
        self.raw = path.read_bytes()
        doc = json.loads(self.raw)
        # The JSON is re-encoded compactly once; decoding it per request is a cheap deep copy.
        self._compact = msgspec.json.encode(doc)
        self.doc: dict[str, Any] = doc
        ldh = str(doc.get("ldhName") or "")
        self.upper = ldh.isupper()
        self.trailing_dot = ldh.endswith(".")
        self.name = ldh.rstrip(".").lower()
        ns = doc.get("nameservers") or []
        self.ns_proto: dict[str, Any] | None = copy.deepcopy(ns[0]) if ns else None
        ns_ldh = str(ns[0].get("ldhName", "")) if ns else ""
        self.ns_name = ns_ldh.rstrip(".").lower()
        self.ns_upper = ns_ldh.isupper()
        self.ns_dot = ns_ldh.endswith(".")
        actions = {e.get("eventAction") for e in doc.get("events", []) if isinstance(e, dict)}
        self.events = actions
        reg = self.registrar_entity(doc)
        self.has_registrar_fn = reg is not None and _vcard_get(reg, "fn") is not None
        self.has_iana_id = reg is not None and any(
            p.get("type") == "IANA Registrar ID" for p in reg.get("publicIds", [])
        )
        self.has_handle = "handle" in doc

    def fresh(self) -> dict[str, Any]:
        doc: dict[str, Any] = msgspec.json.decode(self._compact)
        return doc

    @staticmethod
    def registrar_entity(doc: Mapping[str, Any]) -> dict[str, Any] | None:
        for ent in doc.get("entities", []) or []:
            if isinstance(ent, dict) and "registrar" in [
                str(r).lower() for r in ent.get("roles", [])
            ]:
                return ent
        return None


def _vcard_get(entity: Mapping[str, Any], prop: str) -> list[Any] | None:
    vcard = entity.get("vcardArray")
    if isinstance(vcard, list) and len(vcard) > 1 and isinstance(vcard[1], list):
        for item in vcard[1]:
            if isinstance(item, list) and len(item) >= 4 and item[0] == prop:
                return item
    return None


def _format_like(sample: str, dt: datetime) -> str:
    """Format ``dt`` in the style of the template's date string (fraction, zone, offset)."""
    m = _DATE_RE.match(sample)
    if not m:
        return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    frac, tz = m.group(2), m.group(3)
    local = dt
    if tz and tz != "Z":
        digits = tz[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        local = dt.astimezone(timezone(offset if tz[0] == "+" else -offset))
    out = local.strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        out += "." + "0" * (len(frac) - 1)
    return out + (tz or "")


def _derive_handle(template_handle: str, template_name: str, served_name: str, n: int) -> str:
    """A handle shaped like the template's (suffix kept, e.g. ``-VRSN``) but unique per name."""
    if template_name and template_name in template_handle.lower():
        return served_name  # CZ.NIC uses the name itself as handle
    prefix, sep, suffix = template_handle.rpartition("-")
    if not sep:
        return f"H{n % 10**9:09d}"
    if "_DOMAIN_" in prefix:
        tld = served_name.rstrip(".").rsplit(".", 1)[-1].upper()
        return f"{n % 10**9}_DOMAIN_{tld}-{suffix}"
    if prefix.isdigit():
        return f"{n % 10**9}-{suffix}"
    if re.fullmatch(r"[0-9a-fA-F]+", prefix):
        digest = hashlib.blake2b(str(n).encode(), digest_size=16).hexdigest()[: len(prefix)]
        return f"{digest.upper() if prefix.isupper() else digest}-{suffix}"
    return f"D{n % 10**9}-{suffix}"


def _style(name: str, upper: bool, dot: bool) -> str:
    return (name.upper() if upper else name) + ("." if dot else "")


def _set_events(events: list[Any], plan: _Plan) -> None:
    values = {
        "registration": plan.registered,
        "expiration": plan.expires,
        "last changed": plan.changed,
        "last update": plan.changed,  # MarkMonitor's word for "last changed"
    }
    for ev in events:
        if isinstance(ev, dict) and ev.get("eventAction") in values:
            ev["eventDate"] = _format_like(str(ev.get("eventDate", "")), values[ev["eventAction"]])


def _set_registrar(entity: dict[str, Any], plan: _Plan) -> None:
    reg_name, reg_id = plan.registrar
    old_ids = [p.get("identifier") for p in entity.get("publicIds", []) or []]
    for item in (_vcard_get(entity, "fn"), _vcard_get(entity, "org")):
        if item is not None and isinstance(item[3], str):
            item[3] = reg_name
    for pid in entity.get("publicIds", []) or []:
        if pid.get("type") == "IANA Registrar ID":
            pid["identifier"] = reg_id
    if entity.get("handle") in old_ids and entity.get("handle"):
        entity["handle"] = reg_id  # registries use the IANA ID as the registrar's handle


def _render(
    tpl: _Template,
    plan: _Plan,
    *,
    self_url: str,
    related_url: str | None,
    handle: str | None,
    ns_base: str,
) -> dict[str, Any]:
    """Deep-copy the template and set every name-dependent field by walking the structure."""
    doc = tpl.fresh()
    doc["ldhName"] = _style(plan.key, tpl.upper, tpl.trailing_dot)
    if "unicodeName" in doc or plan.unicode != plan.key:
        doc["unicodeName"] = plan.unicode + ("." if tpl.trailing_dot else "")
    if handle is None:
        doc.pop("handle", None)
    elif "handle" in doc:
        doc["handle"] = handle
    _set_events(doc.get("events", []), plan)
    if tpl.ns_proto is not None:
        servers = []
        for ns in plan.nameservers:
            obj = copy.deepcopy(tpl.ns_proto)
            obj["ldhName"] = _style(ns, tpl.ns_upper, tpl.ns_dot)
            if "unicodeName" in obj:
                obj["unicodeName"] = ns + ("." if tpl.ns_dot else "")
            if isinstance(obj.get("handle"), str):
                obj["handle"] = _derive_handle(obj["handle"], tpl.ns_name, ns, _h("ns", ns))
            obj.pop("ipAddresses", None)  # glue would be fiction for invented hosts
            for link in obj.get("links", []) or []:
                if isinstance(link, dict) and link.get("rel") == "self":
                    link["href"] = link["value"] = f"{ns_base}nameserver/{ns}"
            servers.append(obj)
        doc["nameservers"] = servers
    reg = _Template.registrar_entity(doc)
    if reg is not None:
        _set_registrar(reg, plan)
    placed = related_url is None
    links = []
    for link in doc.get("links", []) or []:
        if not isinstance(link, dict):
            links.append(link)
            continue
        link = dict(link, value=self_url)
        if link.get("rel") == "self":
            link["href"] = self_url
        elif link.get("rel") == "related" and link.get("type", RDAP_JSON) == RDAP_JSON:
            if placed:
                continue  # never point a client at the real registrar
            link["href"], placed = related_url, True
        links.append(link)
    if not placed:
        links.append({"value": self_url, "rel": "related", "href": related_url, "type": RDAP_JSON})
    if links or "links" in doc:
        doc["links"] = links
    return doc


# --------------------------------------------------------------------------- objects (RIRs)

_Net = ipaddress.IPv4Network | ipaddress.IPv6Network
_Addr = ipaddress.IPv4Address | ipaddress.IPv6Address
_AddrStyle = tuple[bool, bool, str]  # (/len suffix, upper case, form)
_PLAIN: _AddrStyle = (False, False, "plain")

#: Countries handed out per RIR, when the template carries a ``country`` member at all.
_RIR_COUNTRIES: dict[str, tuple[str, ...]] = {
    "afrinic": ("ZA", "KE", "NG", "EG", "MA", "GH"),
    "apnic": ("AU", "JP", "KR", "IN", "SG", "HK", "CN"),
    "arin": ("US", "CA", "US", "PR"),
    "lacnic": ("BR", "MX", "AR", "CL", "CO", "UY"),
    "ripe": ("NL", "DE", "GB", "FR", "CH", "SE", "PL", "TR"),
}
_NET_WORDS = (
    "EXAMPLE-NET",
    "CUSTOMER-LAN",
    "HOSTING",
    "BROADBAND-POOL",
    "CAMPUS-NET",
    "DATACENTER",
    "TRANSIT",
    "MOBILE-CORE",
)
_AS_WORDS = ("EXAMPLE-AS", "TRANSIT-AS", "HOSTING-AS", "ACCESS-AS", "IX-AS", "CDN-AS")
# Links into a real RIR's (or NIC.br's) RDAP service are pointed at the simulated one, so a
# client that follows an entity or "up" link stays on loopback.
_REAL_RDAP = re.compile(
    r"^https?://(?:[a-z0-9-]+\.)*(?:rdap\.arin\.net/registry|rdap\.db\.ripe\.net|rdap\.apnic\.net"
    r"|rdap\.lacnic\.net/rdap|rdap\.afrinic\.net/rdap|rdap\.registro\.br)/",
    re.IGNORECASE,
)
_ARIN_NET = re.compile(r"^NET6?-[0-9A-Fa-f-]+-(\d+)$")
_PADDED_V6 = re.compile(r"(?:^|:)0[0-9a-fA-F]{3}(?=[:/]|$)")


@dataclass
class ExpectedObject:
    """What the simulator answers for one ip / autnum / entity / nameserver query.

    ``status`` is the HTTP status a live host answers when no fault or limit gets in the
    way: 200, 400 (invalid query), 404 (outside the registry's ranges, foreign tag, not
    under its TLDs) or 501 (the class is not served there); None when nothing answers (no
    simulated registry covers the query, so the written bootstrap has no entry, or the
    registry is dead). Addresses are canonical (compressed IPv6, unpadded IPv4) whatever
    the template's quirks; fields the template does not carry are None.
    """

    kind: str  # "ip", "autnum", "entity" or "nameserver"
    query: str  # canonical: "13.1.2.3", "13.0.0.0/8", "15169", "ZG39-ARIN", "ns1.example.com"
    status: int | None
    registry: str | None
    rir: str | None = None
    handle: str | None = None
    name: str | None = None  # network / AS name, entity jCard fn
    country: str | None = None
    start_address: str | None = None
    end_address: str | None = None
    cidrs: list[str] = field(default_factory=list)
    ip_version: int | None = None
    parent_handle: str | None = None
    start_autnum: int | None = None
    end_autnum: int | None = None
    ldh_name: str | None = None  # nameservers: as served (template case, trailing dot)
    ip_addresses: list[str] = field(default_factory=list)  # nameservers: v4 then v6
    persons: int = 0  # person objects the answer carries (what person_quota counts)
    template: str | None = None

    @property
    def found(self) -> bool:
        """True when the query is answered with the object (status 200)."""
        return self.status == 200


def _addr_style(sample: object) -> _AddrStyle:
    """How a template prints addresses: ``/len`` suffix (RIPE), case, and form: "plain",
    "pad" (zero-padded IPv4, old ARIN), "exploded" (IPv6, ARIN) or "full" (IPv6 with eight
    unpadded groups, old LACNIC)."""
    text = sample if isinstance(sample, str) else ""
    core, sep, _ = text.partition("/")
    form = "plain"
    parts = core.split(".")
    if len(parts) == 4 and all(len(p) == 3 for p in parts) and any(p[0] == "0" for p in parts):
        form = "pad"
    elif "::" not in core and core.count(":") == 7:
        form = "exploded" if all(len(g) == 4 for g in core.split(":")) else "full"
    return bool(sep), any(c.isupper() for c in core), form


def _fmt_addr(addr: _Addr, style: _AddrStyle) -> str:
    suffix, upper, form = style
    if addr.version == 4:
        out = str(addr)
        if form == "pad":
            out = ".".join(f"{int(p):03d}" for p in out.split("."))
    elif form == "exploded":
        out = addr.exploded
    elif form == "full":
        out = ":".join(f"{int(g, 16):x}" for g in addr.exploded.split(":"))
    else:
        out = str(addr)
    out = out.upper() if upper else out.lower()
    return out + (f"/{addr.max_prefixlen}" if suffix else "")


def _handle_style(handle: object) -> str:
    """Which RIR convention a network handle follows (see :func:`_net_handle`)."""
    if not isinstance(handle, str):
        return "cidr"
    if _ARIN_NET.match(handle):
        return "arin"
    if " - " in handle:
        return "range"
    if "/" in handle:
        return "cidr-padded" if _PADDED_V6.search(handle) else "cidr"
    return "address" if _loose_address(handle) is not None else "cidr"


def _net_handle(net: _Net, style: str, serial: str = "1") -> str:
    """A network handle in the template's convention: ARIN ``NET-13-64-0-0-1``, RIPE /
    APNIC / AFRINIC ``a - b`` or ``prefix/len`` (APNIC and AFRINIC zero-pad IPv6 groups),
    LACNIC ``prefix/len`` or the start address."""
    start = net.network_address
    if style == "arin":
        if net.version == 4:
            return f"NET-{str(start).replace('.', '-')}-{serial}"
        head = str(start).rstrip(":").replace("::", "-0-").replace(":", "-")
        return f"NET6-{head.upper()}-{serial}"
    if style == "range":
        return f"{start} - {net.broadcast_address}"
    if style == "address":
        return str(start)
    if style == "cidr-padded" and net.version == 6:
        groups = [g.zfill(4) if g else g for g in str(start).split(":")]
        return ":".join(groups) + f"/{net.prefixlen}"
    return str(net)


def _same_type(old: object, number: int) -> int | str:
    return str(number) if isinstance(old, str) else number


def _count_persons(node: object) -> int:
    """Entities with a jCard of kind "individual" or of no kind (what person_quota counts).

    RIPE's own accounting counts person and non-abuse role objects; a jCard's kind is the
    closest thing an RDAP answer says about that.
    """
    count = 0
    if isinstance(node, dict):
        vcard = node.get("vcardArray")
        if isinstance(vcard, list) and len(vcard) > 1 and isinstance(vcard[1], list):
            kinds = [
                str(item[3]).lower()
                for item in vcard[1]
                if isinstance(item, list) and len(item) >= 4 and item[0] == "kind"
            ]
            count += not kinds or kinds[0] == "individual"
        for value in node.values():
            if isinstance(value, (dict, list)):
                count += _count_persons(value)
    elif isinstance(node, list):
        for value in node:
            count += _count_persons(value)
    return count


def _relink(doc: dict[str, Any], self_url: str, base: str) -> None:
    """Point the object's links at the simulated service (self link: ``self_url``)."""

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("href", "value") and isinstance(value, str):
                    node[key] = _REAL_RDAP.sub(base, value, count=1)
                elif isinstance(value, (dict, list)):
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    links = doc.get("links")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict):
            link["value"] = self_url
            if link.get("rel") == "self":
                link["href"] = self_url


def _styled_word(words: tuple[str, ...], pick: int, sample: object, suffix: str) -> str:
    word = f"{words[pick % len(words)]}-{suffix}"
    return word.lower() if isinstance(sample, str) and sample.islower() else word


class _ObjTemplate:
    """An ip / autnum / entity answer parsed once, with the quirks it prints values in."""

    def __init__(self, rel: str, kind: str) -> None:
        self.rel = rel
        doc = json.loads(_template_path(rel).read_bytes())
        self._compact = msgspec.json.encode(doc)
        self.doc: dict[str, Any] = doc
        start = _loose_address(doc.get("startAddress"))
        self.version = start.version if start is not None else None
        # ARIN prints "2001:4860:0000:..." / "...:FFFF": the case shows in one of the two.
        start_style, end_style = (
            _addr_style(doc.get("startAddress")),
            _addr_style(doc.get("endAddress")),
        )
        upper = start_style[1] or end_style[1]
        self.start_style = (start_style[0], upper, start_style[2])
        self.end_style = (end_style[0], upper, end_style[2])
        handle = doc.get("handle")
        self.handle = handle if isinstance(handle, str) else ""
        self.handle_style = _handle_style(handle)
        parent = doc.get("parentHandle")
        self.parent_style = _handle_style(parent)
        m = _ARIN_NET.match(parent) if isinstance(parent, str) else None
        self.parent_serial = m.group(1) if m else "0"
        first = doc.get("startAutnum")
        self.autnum = str(first).upper().removeprefix("AS") if first is not None else ""
        fn = _vcard_get(doc, "fn")
        self.fn = str(fn[3]) if fn is not None and isinstance(fn[3], str) else None

    def fresh(self) -> dict[str, Any]:
        doc: dict[str, Any] = msgspec.json.decode(self._compact)
        return doc


def _parse_ip_query(text: str) -> _Net:
    """``addr`` or ``addr/len`` as in an ``ip/`` path (host bits after len are ignored)."""
    if text != text.strip() or not text:
        raise ValueError("empty or padded")
    if "/" in text:
        addr, _, length = text.partition("/")
        if not length.isdigit() or not length.isascii():
            raise ValueError("prefix length is not a number")
        return ipaddress.ip_network(f"{ipaddress.ip_address(addr)}/{int(length)}", strict=False)
    return ipaddress.ip_network(ipaddress.ip_address(text))


# --------------------------------------------------------------------------- server


class _Bucket:
    """Token bucket on the event loop clock."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = burst
        self.last: float | None = None

    def take(self, now: float) -> float:
        """Take a token; return 0.0 on success, else seconds until one is available."""
        if self.last is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class _Registry:
    """Runtime state of one virtual registry."""

    def __init__(self, spec: RegistrySpec) -> None:
        self.spec = spec
        self.template = _Template(_template_path(spec.template))
        self.nf_template = (
            _Template(_template_path(spec.not_found_template)) if spec.not_found_template else None
        )
        self.port = 0
        self.sock: socket.socket | None = None
        self.stats = RegistryStats()
        self.attempts: dict[str, int] = {}
        self.bucket: _Bucket | None = None
        if spec.rate_limit:
            rate = float(spec.rate_limit["rate_per_s"])
            self.bucket = _Bucket(rate, float(spec.rate_limit.get("burst", max(1.0, rate))))
        self.sem: asyncio.Semaphore | None = None
        # Limit state (loop clock). Kept across reset_stats(): the server remembers abuse.
        self.quota_day = 0  # index of the simulated day the count belongs to
        self.quota_used = 0
        self.violations: deque[float] = deque()  # times of recent throttled answers
        self.blocked_until: float | None = None
        self.person_day = 0
        self.persons_used = 0  # person objects served on simulated day ``person_day``
        # Role "rir": number resources, tags and the templates of each object class.
        self.networks: list[_Net] = [ipaddress.ip_network(t) for t in spec.ip_ranges]
        self.asns = [_asn_range(v) for v in spec.asn_ranges]
        self.tags = set(spec.entity_tags or [])
        self.objects: dict[str, list[_ObjTemplate]] = {
            kind: [_ObjTemplate(rel, kind) for rel in getattr(spec, f"{kind}_templates") or []]
            for kind in ("ip", "autnum", "entity")
        }
        # RIPE's real 501 for nameserver queries; other registries get a minimal RDAP error.
        self.ns_501 = (
            (responses_dir() / "ripe" / "error-501-nameserver.json").read_bytes()
            if spec.rir == "ripe"
            else _error_body(501, "Not Implemented", "Nameserver queries are not supported.")
        )


def stats_to_json(stats: Mapping[str, RegistryStats]) -> dict[str, dict[str, Any]]:
    """Registry stats as JSON-ready dicts (``by_status`` keys become strings)."""
    out = {}
    for name, st in stats.items():
        row = asdict(st)
        row["by_status"] = {str(k): v for k, v in sorted(st.by_status.items())}
        out[name] = row
    return out


def _host_bound(spec: RegistrySpec, requests: int) -> dict[str, Any]:
    """The fastest any client can send ``requests`` to one registry and get every answer."""
    lat = float(spec.latency_ms.get("mean", 0)) / 1000 if spec.latency_ms else 0.0
    row: dict[str, Any] = {
        "requests": requests,
        "role": spec.role,
        "rate_per_s": None,
        "burst": None,
        "concurrency_limit": spec.concurrency_limit,
        "mean_latency_s": lat,
        "rate_bound_s": None,
        "concurrency_bound_s": None,
        "quota_bound_s": None,
    }
    terms = {"latency": lat}
    if spec.rate_limit:
        rate = float(spec.rate_limit["rate_per_s"])
        burst = float(spec.rate_limit.get("burst", max(1.0, rate)))
        row["rate_per_s"], row["burst"] = rate, burst
        # A full bucket of ``burst`` at t=0, then one token per 1/rate; the last answer
        # still takes one latency to come back.
        terms["rate"] = row["rate_bound_s"] = max(0.0, requests - burst) / rate + lat
    if spec.concurrency_limit is not None:
        terms["concurrency"] = row["concurrency_bound_s"] = requests * lat / spec.concurrency_limit
    if spec.daily_quota is not None and requests > spec.daily_quota:
        days = (requests - 1) // spec.daily_quota
        terms["quota"] = row["quota_bound_s"] = days * spec.quota_day_s
    binding = max(terms, key=lambda k: terms[k])
    row["bound_s"] = terms[binding]
    row["binding"] = binding
    return row


def _error_body(code: int, title: str, description: str) -> bytes:
    return json.dumps(
        {
            "rdapConformance": ["rdap_level_0"],
            "errorCode": code,
            "title": title,
            "description": [description],
        }
    ).encode()


class Simulator:
    """Many virtual RDAP registries on loopback; an async context manager.

    Parameters
    ----------
    scenario
        A :class:`Scenario`, a path to a scenario JSON file, a mapping, or None for the
        default scenario.
    host
        Interface to listen on.
    port
        0 for ephemeral ports, else registry ``i`` (scenario order) listens on ``port + i``.
    """

    def __init__(
        self,
        scenario: Scenario | str | Path | Mapping[str, Any] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if scenario is None:
            scenario = Scenario.default()
        elif not isinstance(scenario, Scenario):
            scenario = Scenario.load(scenario)
        self.scenario = scenario
        self.host, self.port = host, port
        self._regs = {s.name: _Registry(s) for s in scenario.registries}
        self._by_tld = {
            tld: r for r in self._regs.values() if r.spec.role == "registry" for tld in r.spec.tlds
        }
        self._by_port: dict[int, _Registry] = {}
        self._runner: web.AppRunner | None = None
        self._t0 = 0.0  # loop time at start(): simulated quota days count from here

    # ---- lifecycle

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Bind every registry's port and start serving."""
        if self._runner is not None:
            raise RuntimeError("simulator already started")
        self._t0 = asyncio.get_running_loop().time()
        app = web.Application()
        # "_" cannot start a registry name, so this never shadows a registry's path.
        app.router.add_get("/_simulator/stats", self._stats_handler)
        app.router.add_get("/{registry}/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        self._runner = runner
        try:
            for i, reg in enumerate(self._regs.values()):
                sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((self.host, self.port + i if self.port else 0))
                reg.sock, reg.port = sock, sock.getsockname()[1]
                reg.sem = asyncio.Semaphore(reg.spec.concurrency_limit or 1)
                if reg.spec.dead:
                    continue  # bound but never listening: connections are refused
                await web.SockSite(runner, sock).start()
                self._by_port[reg.port] = reg
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop serving and release every port (dead registries included)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for reg in self._regs.values():
            if reg.sock is not None:
                reg.sock.close()
                reg.sock = None
        self._by_port.clear()

    # ---- introspection

    def _started(self) -> None:
        if self._runner is None:
            raise RuntimeError("the simulator is not running; call start() first")

    def base_url(self, registry: str) -> str:
        """``http://host:port/{registry}/`` (the RDAP base URL, with trailing slash)."""
        self._started()
        reg = self._regs[registry]
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{reg.port}/{registry}/"

    def stats(self) -> dict[str, RegistryStats]:
        """A snapshot of every registry's counters."""
        return {name: copy.deepcopy(reg.stats) for name, reg in self._regs.items()}

    def reset_stats(self) -> None:
        """Zero the counters and the per-URL attempt numbers (so a rerun replays exactly)."""
        for reg in self._regs.values():
            in_flight = reg.stats.in_flight
            reg.stats = RegistryStats(in_flight=in_flight, peak_in_flight=in_flight)
            reg.attempts.clear()

    def lower_bound(self, names: Iterable[str]) -> dict[str, Any]:
        """The shortest makespan any client could achieve for ``names`` (no cache).

        Per registry ``h``, ``R_h`` is the requests a perfect client must send: one per
        distinct name served by ``h``, plus one to the registrar for every name whose
        answer refers to a registrar. Then ``T_h = max((R_h - burst) / rate + latency,
        R_h * latency / concurrency_limit, latency)`` (absent limits drop out; mean
        latency), plus whole quota days when ``R_h`` exceeds ``daily_quota``. Names with
        no registry here, invalid names and dead registries add nothing. The bound ignores
        the registry-before-registrar ordering, so it is a true lower bound, not a
        schedule. Needs no running server.

        Parameters
        ----------
        names
            Input names, any spelling; duplicates count once (as a lookup sends them).

        Returns
        -------
        dict
            ``{"bound_s": max_h T_h, "names": distinct names with a live registry,
            "hosts": {registry name: {"requests", "bound_s", "binding", "rate_per_s",
            "burst", "concurrency_limit", "mean_latency_s", "rate_bound_s",
            "concurrency_bound_s", "quota_bound_s", "role", "host"}}}``, hosts sorted by
            ``bound_s`` descending; ``host`` is ``"ip:port"`` once started, else None.
        """
        counts: dict[str, int] = {}
        seen: set[str] = set()
        live = 0
        for name in names:
            norm = _normalize(name) if isinstance(name, str) else None
            if norm is None or norm[0] in seen:
                continue
            seen.add(norm[0])
            reg = self._by_tld.get(norm[0].rsplit(".", 1)[-1])
            if reg is None or reg.spec.dead:
                continue
            live += 1
            counts[reg.spec.name] = counts.get(reg.spec.name, 0) + 1
            found = self._plan(*norm)
            referral = found[1].referral if found is not None else None
            if referral is not None and not self._regs[referral].spec.dead:
                counts[referral] = counts.get(referral, 0) + 1
        ip = f"[{self.host}]" if ":" in self.host else self.host
        hosts = {}
        for name, requests in counts.items():
            reg = self._regs[name]
            row = _host_bound(reg.spec, requests)
            row["host"] = f"{ip}:{reg.port}" if self._runner is not None else None
            hosts[name] = row
        ordered = dict(sorted(hosts.items(), key=lambda kv: (-kv[1]["bound_s"], kv[0])))
        bound = max((h["bound_s"] for h in hosts.values()), default=0.0)
        return {"bound_s": bound, "names": live, "hosts": ordered}

    def write_bootstrap(self, directory: str | Path) -> Path:
        """Write an IANA-format bootstrap directory pointing the simulated TLDs here.

        ``dns.json`` maps every role=registry registry's TLDs to its base URL (dead ones to
        their refused port). When the scenario has role=rir registries, ``ipv4.json``,
        ``ipv6.json``, ``asn.json`` and ``object-tags.json`` (RFC 9224 / RFC 8521) map their
        ``ip_ranges``, ``asn_ranges`` and ``entity_tags`` to their base URLs, and nothing
        else (no entry points off loopback); without RIRs they are copied from the bundled
        IANA snapshot.

        Returns
        -------
        Path
            The directory.
        """
        self._started()
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        services = [
            [list(r.spec.tlds), [self.base_url(r.spec.name)]]
            for r in self._regs.values()
            if r.spec.role == "registry"
        ]
        dns = {
            "description": "RDAP bootstrap file for Domain Name System registrations (rdaplab simulator)",
            "publication": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "services": services,
            "version": "1.0",
        }
        (out / "dns.json").write_text(json.dumps(dns, indent=2) + "\n", encoding="utf-8")
        rirs = [r for r in self._regs.values() if r.spec.role == "rir"]
        if not rirs:
            for fname in ("ipv4.json", "ipv6.json", "asn.json", "object-tags.json"):
                (out / fname).write_bytes((bootstrap_dir() / fname).read_bytes())
            return out
        files: dict[str, tuple[str, list[list[list[str]]]]] = {
            "ipv4.json": ("IPv4 address allocations", []),
            "ipv6.json": ("IPv6 address allocations", []),
            "asn.json": ("Autonomous System Number allocations", []),
            "object-tags.json": ("service provider object tags", []),
        }
        for r in rirs:
            url = [self.base_url(r.spec.name)]
            for family in (4, 6):
                nets = [str(n) for n in r.networks if n.version == family]
                if nets:
                    files[f"ipv{family}.json"][1].append([nets, url])
            if r.asns:
                files["asn.json"][1].append([[f"{lo}-{hi}" for lo, hi in r.asns], url])
            if r.spec.entity_tags:
                contact = [f"{r.spec.name}@rdaplab-simulator.invalid"]
                files["object-tags.json"][1].append([contact, list(r.spec.entity_tags), url])
        for fname, (what, services) in files.items():
            doc = {
                "description": f"RDAP bootstrap file for {what} (rdaplab simulator)",
                "publication": dns["publication"],
                "services": services,
                "version": "1.0",
            }
            (out / fname).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        return out

    def _plan(self, key: str, unicode: str) -> tuple[_Registry, _Plan] | None:
        """The registry serving ``key`` and its values, or None when the name does not exist."""
        reg = self._by_tld.get(key.rsplit(".", 1)[-1])
        if reg is None:
            return None
        first = key.split(".", 1)[0]
        seed, spec = self.scenario.seed, reg.spec
        if first.startswith("nx-") or "nonexistent" in first:
            return None
        if spec.not_found_rate and _unit(seed, "nf", spec.name, key) < spec.not_found_rate:
            return None
        referral = None
        if spec.referrals:
            referral = spec.referrals[_h("refer", spec.name, key) % len(spec.referrals)]
        target = self._regs[referral].spec if referral else None
        if target is not None and target.registrar_name and target.registrar_iana_id:
            registrar = (target.registrar_name, target.registrar_iana_id)
        else:
            registrar = REGISTRARS[_h("registrar", key) % len(REGISTRARS)]
        span = (datetime(2024, 12, 31, tzinfo=timezone.utc) - _EPOCH).total_seconds()
        registered = _EPOCH + timedelta(seconds=int(_unit("reg", key) * span))
        expires = _add_years(registered, 2026 - registered.year + _h("exp", key) % 5)
        horizon = (min(expires, _NOW) - registered).total_seconds()
        changed = registered + timedelta(seconds=int(_unit("chg", key) * horizon))
        provider = NS_PROVIDERS[_h("ns", key) % len(NS_PROVIDERS)]
        count = 2 + _h("nscount", key) % 3
        plan = _Plan(
            key=key,
            unicode=unicode,
            handle_seed=_h("handle", key),
            registered=registered,
            expires=expires,
            changed=changed,
            nameservers=[f"ns{i}.{provider}" for i in range(1, count + 1)],
            registrar=registrar,
            referral=referral,
        )
        return reg, plan

    def _registry_handle(self, reg: _Registry, plan: _Plan) -> str | None:
        tpl = reg.template
        if not tpl.has_handle:
            return None
        served = _style(plan.key, tpl.upper, tpl.trailing_dot)
        return _derive_handle(str(tpl.doc["handle"]), tpl.name, served, plan.handle_seed)

    def _related_url(self, reg: _Registry, plan: _Plan) -> str | None:
        if plan.referral is None:
            return None
        name = _style(plan.key, reg.template.upper, False)
        return f"{self.base_url(plan.referral)}domain/{name}"

    def expected(self, name: str) -> ExpectedDomain | None:
        """The values served for ``name``; None if it does not exist or nothing serves it.

        Parameters
        ----------
        name
            Any spelling: case, trailing dot and U-labels are normalized.
        """
        self._started()
        norm = _normalize(name)
        found = self._plan(*norm) if norm else None
        if found is None or found[0].spec.dead:
            return None
        reg, plan = found
        tpls = [reg.template]
        if plan.referral is not None:
            tpls.append(self._regs[plan.referral].template)

        def served(pred: Any, value: Any) -> Any:
            return value if any(pred(t) for t in tpls) else None

        return ExpectedDomain(
            name=plan.key,
            unicode_name=plan.unicode,
            handle=self._registry_handle(reg, plan),
            registrar=served(lambda t: t.has_registrar_fn, plan.registrar[0]),
            registrar_iana_id=served(lambda t: t.has_iana_id, plan.registrar[1]),
            registration_date=served(lambda t: "registration" in t.events, plan.registered),
            expiration_date=served(lambda t: "expiration" in t.events, plan.expires),
            last_changed_date=served(lambda t: "last changed" in t.events, plan.changed),
            nameservers=list(plan.nameservers) if any(t.ns_proto for t in tpls) else [],
            registry=reg.spec.name,
            registrar_url=self._related_url(reg, plan),
        )

    # ---- ip / autnum / entity / nameserver

    def _object(
        self, reg: _Registry, kind: str, arg: str
    ) -> tuple[int, dict[str, Any] | None, str, ExpectedObject]:
        """(status, document when 200, error message, expected values) for one query.

        The single source of truth of both the served answer and :meth:`expected_object`.
        """
        exp = ExpectedObject(kind=kind, query=arg, status=200, registry=reg.spec.name)
        exp.rir = reg.spec.rir
        if kind == "nameserver":
            return self._nameserver(reg, arg, exp)
        if reg.spec.role != "rir":
            exp.status = 501
            return 501, None, f"{kind} queries are not supported here.", exp
        if kind == "ip":
            return self._ip(reg, arg, exp)
        if kind == "autnum":
            return self._autnum(reg, arg, exp)
        return self._entity(reg, arg, exp)

    @staticmethod
    def _fail(
        exp: ExpectedObject, status: int, message: str
    ) -> tuple[int, None, str, ExpectedObject]:
        exp.status = status
        return status, None, message, exp

    def _pick(
        self, reg: _Registry, kind: str, key: str, version: int | None = None
    ) -> _ObjTemplate:
        tpls = reg.objects[kind]
        if version is not None:
            tpls = [t for t in tpls if t.version == version] or tpls
        return tpls[_h(self.scenario.seed, reg.spec.name, "tpl", kind, key) % len(tpls)]

    def _network_for(self, reg: _Registry, owner: _Net, query: _Net) -> _Net:
        """The simulated network answering ``query``: a prefix inside ``owner`` whose length
        is a stable hash of the /16 (IPv4) or /32 (IPv6) around the query, so every address
        of one network gets the same object. A query broader than that gets itself."""
        v4 = query.version == 4
        block_len = max(owner.prefixlen, 16 if v4 else 32)
        lo, hi = block_len, max(block_len, 24 if v4 else 48)
        block = query.supernet(new_prefix=block_len) if query.prefixlen > block_len else query
        length = lo + _h(self.scenario.seed, reg.spec.name, "net", block) % (hi - lo + 1)
        length = max(owner.prefixlen, min(length, query.prefixlen))
        return query.supernet(new_prefix=length) if query.prefixlen > length else query

    def _ip(
        self, reg: _Registry, arg: str, exp: ExpectedObject
    ) -> tuple[int, dict[str, Any] | None, str, ExpectedObject]:
        try:
            query = _parse_ip_query(arg)
        except ValueError:
            return self._fail(exp, 400, "Invalid IP address or prefix.")
        exp.query = str(query) if "/" in arg else str(query.network_address)
        owner = next(
            (n for n in reg.networks if n.version == query.version and query.subnet_of(n)),  # type: ignore[arg-type]
            None,
        )
        if owner is None:
            return self._fail(exp, 404, "Not in this registry's address space.")
        net = self._network_for(reg, owner, query)
        tpl = self._pick(reg, "ip", str(net), net.version)
        same = tpl.version == net.version  # the template's address quirks only transfer then
        pick = _h(self.scenario.seed, reg.spec.name, "ipname", net)
        doc = tpl.fresh()
        doc["startAddress"] = _fmt_addr(net.network_address, tpl.start_style if same else _PLAIN)
        doc["endAddress"] = _fmt_addr(net.broadcast_address, tpl.end_style if same else _PLAIN)
        doc["ipVersion"] = f"v{net.version}"
        if "cidr0_cidrs" in doc:
            prefix = {f"v{net.version}prefix": str(net.network_address), "length": net.prefixlen}
            doc["cidr0_cidrs"] = [prefix]
        doc["handle"] = exp.handle = _net_handle(net, tpl.handle_style)
        if "parentHandle" in doc:
            parent = owner if owner.prefixlen < net.prefixlen else owner.supernet(new_prefix=0)
            doc["parentHandle"] = exp.parent_handle = _net_handle(
                parent, tpl.parent_style, tpl.parent_serial
            )
        if "name" in doc:
            name = doc["name"]
            if isinstance(name, str) and _loose_address(name.split(" - ")[0]) is not None:
                doc["name"] = _net_handle(net, "range" if " - " in name else "cidr")  # LACNIC
            else:
                doc["name"] = _styled_word(_NET_WORDS, pick, name, str(pick % 1000))
            exp.name = doc["name"]
        if "country" in doc and reg.spec.rir:
            countries = _RIR_COUNTRIES[reg.spec.rir]
            doc["country"] = exp.country = countries[(pick >> 16) % len(countries)]
        base = self.base_url(reg.spec.name)
        _relink(doc, f"{base}ip/{net}", base)
        exp.start_address, exp.end_address = str(net.network_address), str(net.broadcast_address)
        exp.cidrs, exp.ip_version = [str(net)], net.version
        exp.persons, exp.template = _count_persons(doc), tpl.rel
        return 200, doc, "", exp

    def _autnum(
        self, reg: _Registry, arg: str, exp: ExpectedObject
    ) -> tuple[int, dict[str, Any] | None, str, ExpectedObject]:
        if not (arg.isascii() and arg.isdigit() and len(arg) <= 10) or int(arg) > 4_294_967_295:
            return self._fail(exp, 400, "Invalid AS number.")
        number = int(arg)
        exp.query = str(number)
        if not any(lo <= number <= hi for lo, hi in reg.asns):
            return self._fail(exp, 404, "Not in this registry's AS number space.")
        tpl = self._pick(reg, "autnum", str(number))
        doc = tpl.fresh()
        doc["startAutnum"] = _same_type(doc.get("startAutnum"), number)
        if "endAutnum" in doc:
            doc["endAutnum"] = _same_type(doc["endAutnum"], number)
        if "handle" in doc:
            # registro.br prints the bare number, everyone else "AS" + number
            doc["handle"] = str(number) if tpl.handle.isdigit() else f"AS{number}"
            exp.handle = doc["handle"]
        pick = _h(self.scenario.seed, reg.spec.name, "asname", number)
        if isinstance(doc.get("name"), str):
            name = doc["name"]
            if tpl.autnum and tpl.autnum in name:  # LACNIC "28000", NIC.br "ASN53170"
                doc["name"] = name.replace(tpl.autnum, str(number))
            else:
                doc["name"] = _styled_word(_AS_WORDS, pick, name, str(number))
            exp.name = doc["name"]
        if "country" in doc and reg.spec.rir:
            countries = _RIR_COUNTRIES[reg.spec.rir]
            doc["country"] = exp.country = countries[(pick >> 16) % len(countries)]
        base = self.base_url(reg.spec.name)
        _relink(doc, f"{base}autnum/{number}", base)
        exp.start_autnum = exp.end_autnum = number
        exp.persons, exp.template = _count_persons(doc), tpl.rel
        return 200, doc, "", exp

    def _entity(
        self, reg: _Registry, arg: str, exp: ExpectedObject
    ) -> tuple[int, dict[str, Any] | None, str, ExpectedObject]:
        handle = arg
        head, sep, tag = handle.rpartition("-")
        if (
            not handle.isprintable()
            or any(c.isspace() for c in handle)
            or len(handle) > 255
            or (sep and not (head and tag))
        ):
            return self._fail(exp, 400, "Invalid entity handle.")
        if sep and tag.upper() not in reg.tags:
            # Untagged handles (ARIN org "GOVI", NIC.br "GJM3") are answered; a foreign
            # tag is not this registry's, as RIPE answers for "JNIC1-AP".
            return self._fail(exp, 404, "Not a handle of this registry.")
        if not reg.objects["entity"]:
            return self._fail(exp, 501, "entity queries are not supported here.")
        tpl = self._pick(reg, "entity", handle.upper())
        served = handle.upper() if tpl.handle == tpl.handle.upper() else handle
        exp.query = served
        doc = tpl.fresh()
        doc["handle"] = exp.handle = served
        base = self.base_url(reg.spec.name)
        _relink(doc, f"{base}entity/{served}", base)
        exp.name = tpl.fn
        exp.persons, exp.template = _count_persons(doc), tpl.rel
        return 200, doc, "", exp

    def _nameserver(
        self, reg: _Registry, arg: str, exp: ExpectedObject
    ) -> tuple[int, dict[str, Any] | None, str, ExpectedObject]:
        mode = reg.spec.nameserver_queries
        if mode == "501":
            return self._fail(exp, 501, "Nameserver queries are not supported.")
        norm = _normalize(arg) if "/" not in arg else None
        if norm is None:
            return self._fail(exp, 400, "Invalid nameserver name.")
        key, unicode = norm
        exp.query = key
        first = key.split(".", 1)[0]
        if (
            mode == "404"
            or self._by_tld.get(key.rsplit(".", 1)[-1]) is not reg
            or first.startswith("nx-")
            or "nonexistent" in first
        ):
            return self._fail(exp, 404, "Nameserver not found.")
        tpl = reg.template
        obj: dict[str, Any] = copy.deepcopy(tpl.ns_proto) if tpl.ns_proto else {}
        obj["objectClassName"] = "nameserver"
        obj["ldhName"] = exp.ldh_name = _style(key, tpl.ns_upper, tpl.ns_dot)
        if "unicodeName" in obj or unicode != key:
            obj["unicodeName"] = unicode + ("." if tpl.ns_dot else "")
        if isinstance(obj.get("handle"), str):
            obj["handle"] = _derive_handle(obj["handle"], tpl.ns_name, key, _h("ns", key))
            exp.handle = obj["handle"]
        glue = obj.get("ipAddresses")
        if isinstance(glue, dict):
            # Documentation addresses (RFC 5737 / 3849): real-looking glue, never routable.
            n = _h(self.scenario.seed, "glue", key)
            v4 = (
                f"{(192, 198, 203)[n % 3]}.{(0, 51, 0)[n % 3]}.{(2, 100, 113)[n % 3]}.{n % 254 + 1}"
            )
            v6 = str(ipaddress.IPv6Address(f"2001:db8::{n % 65535 + 1:x}"))
            obj["ipAddresses"] = {k: [v4] if k == "v4" else [v6] for k in glue if k in ("v4", "v6")}
            exp.ip_addresses = [a for k in ("v4", "v6") for a in obj["ipAddresses"].get(k, [])]
        base = self.base_url(reg.spec.name)
        links = obj.get("links")
        for link in links if isinstance(links, list) else []:
            if isinstance(link, dict) and link.get("rel") == "self":
                link["href"] = link["value"] = f"{base}nameserver/{key}"
        doc: dict[str, Any] = {"rdapConformance": tpl.doc.get("rdapConformance", ["rdap_level_0"])}
        doc.update(obj)
        for member in ("notices", "port43"):
            if member in tpl.doc:
                doc[member] = copy.deepcopy(tpl.doc[member])
        exp.persons = _count_persons(doc)
        return 200, doc, "", exp

    def _route(self, kind: str, query: str) -> _Registry | None:
        """The registry the written bootstrap sends ``query`` to (None: no entry)."""
        if kind == "nameserver":
            norm = _normalize(query)
            return self._by_tld.get(norm[0].rsplit(".", 1)[-1]) if norm else None
        rirs = [r for r in self._regs.values() if r.spec.role == "rir"]
        if kind == "ip":
            try:
                net = _parse_ip_query(query)
            except ValueError:
                return None
            return next(
                (
                    r
                    for r in rirs
                    for n in r.networks
                    if n.version == net.version and net.subnet_of(n)  # type: ignore[arg-type]
                ),
                None,
            )
        if kind == "autnum":
            if not (query.isascii() and query.isdigit()):
                return None
            number = int(query)
            return next((r for r in rirs if any(lo <= number <= hi for lo, hi in r.asns)), None)
        head, sep, tag = query.rpartition("-")
        if not sep or not head:
            return None
        return next((r for r in rirs if tag.upper() in r.tags), None)

    def expected_object(
        self, kind: str, query: str | int, registry: str | None = None
    ) -> ExpectedObject:
        """What a query for an IP network, autnum, entity or nameserver is answered with.

        Parameters
        ----------
        kind
            ``"ip"``, ``"autnum"``, ``"entity"`` or ``"nameserver"`` (also ``"asn"``,
            ``"network"``, ``"ns"``).
        query
            As it would go in the path: ``"13.1.2.3"``, ``"13.0.0.0/8"``, ``15169`` (an
            ``AS`` prefix is dropped here), ``"ZG39-ARIN"``, ``"ns1.example.com"``.
        registry
            Ask this registry directly; by default the one the simulator's bootstrap
            (:meth:`write_bootstrap`) routes the query to, by range, tag or TLD.

        Returns
        -------
        ExpectedObject
            ``status`` None when nothing answers (no registry covers the query, or it is
            dead); faults, rate limits and quotas are not reflected.

        Raises
        ------
        ValueError
            For an unknown kind or registry name.
        """
        self._started()
        kind = _KIND_ALIASES.get(kind.lower(), kind.lower())
        if kind not in _OBJECT_KINDS:
            raise ValueError(f"kind must be one of {_OBJECT_KINDS}, not {kind!r}")
        text = str(query).strip()
        if kind == "autnum" and text[:2].upper() == "AS":
            text = text[2:]
        if registry is not None:
            if registry not in self._regs:
                raise ValueError(f"no registry named {registry!r} in this scenario")
            reg: _Registry | None = self._regs[registry]
        else:
            reg = self._route(kind, text)
        if reg is None:
            return ExpectedObject(kind=kind, query=text, status=None, registry=None)
        exp = self._object(reg, kind, text)[3]
        if reg.spec.dead:
            exp.status = None
        return exp

    # ---- request handling

    async def _stats_handler(self, request: web.Request) -> web.Response:
        """``GET /_simulator/stats`` on any port: every registry's counters as JSON.

        For a simulator in another process (``rdaplab simulate``), whose stats() a client
        cannot call.
        """
        return web.json_response(stats_to_json(self.stats()))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        reg = self._by_port.get(sockname[1] if sockname else -1)
        if reg is None or request.match_info["registry"] != reg.spec.name:
            return web.Response(
                status=404,
                body=_error_body(404, "Not Found", "no such service"),
                content_type=RDAP_JSON,
            )
        st = reg.stats
        st.requests += 1
        kind = request.match_info["tail"].partition("/")[0].lower()
        kind = kind if kind in ("domain", "help", *_OBJECT_KINDS) else "other"
        st.by_kind[kind] = st.by_kind.get(kind, 0) + 1
        st.in_flight += 1
        st.peak_in_flight = max(st.peak_in_flight, st.in_flight)
        resp: web.StreamResponse | None = None
        try:
            resp = await self._serve(reg, request)
        finally:
            st.in_flight -= 1
            if resp is None:
                st.dropped += 1
            else:
                st.by_status[resp.status] = st.by_status.get(resp.status, 0) + 1
        # A dropped connection's transport is closed: aiohttp discards this placeholder.
        return resp if resp is not None else web.Response(status=500)

    def _retry_after(self, reg: _Registry, wait_s: float) -> dict[str, str]:
        style = reg.spec.retry_after
        if style == "none":
            return {}
        secs = max(1, math.ceil(wait_s))
        if style == "seconds":
            return {"Retry-After": str(secs)}
        # Round up to a whole second: an HTTP-date must not name a time before the token.
        when = datetime.fromtimestamp(math.ceil(time.time() + wait_s), tz=timezone.utc)
        return {"Retry-After": email.utils.format_datetime(when, usegmt=True)}

    def _violation(self, reg: _Registry, now: float) -> None:
        """Count a throttled answer; ``block_after`` of them in the window start a block."""
        reg.stats.throttled += 1
        spec = reg.spec
        if spec.block_after is None:
            return
        window = reg.violations
        window.append(now)
        while window and window[0] <= now - spec.block_window_s:
            window.popleft()
        if len(window) >= spec.block_after:
            reg.blocked_until = now + spec.block_s
            reg.stats.blocks += 1
            window.clear()

    def _blocked(self, reg: _Registry) -> web.Response:
        # Like a WAF in front of the registry: HTML, 403, and no hint of when it ends.
        reg.stats.blocked += 1
        html = (
            "<html><head><title>403 Forbidden</title></head><body><h1>Access denied</h1>"
            "<p>Access denied: your address has been blocked for abusive querying.</p>"
            "</body></html>"
        )
        return web.Response(status=403, text=html, content_type="text/html")

    def _quota(self, reg: _Registry, now: float) -> web.Response | None:
        """The quota answer when the day's quota is spent, else None (and count this one)."""
        spec = reg.spec
        if spec.daily_quota is None:
            return None
        elapsed = max(0.0, now - self._t0)
        day = int(elapsed // spec.quota_day_s)
        if day != reg.quota_day:
            reg.quota_day, reg.quota_used = day, 0
        if reg.quota_used < spec.daily_quota:
            reg.quota_used += 1
            return None
        reg.stats.quota_rejections += 1
        reset_in = (day + 1) * spec.quota_day_s - elapsed
        body = _error_body(
            429,
            "Quota exceeded",
            "Daily query quota exhausted for this address; retry after the reset.",
        )
        return web.Response(
            status=429,
            body=body,
            content_type=RDAP_JSON,
            headers={"Retry-After": str(max(1, math.ceil(reset_in)))},
        )

    def _person_quota(self, reg: _Registry, now: float, remote: str | None) -> web.Response | None:
        """RIPE's answer once the day's personal data is spent, else None.

        RIPE's Acceptable Use Policy caps the personal data sets (person and non-abuse role
        objects) returned to one IP address at 1,000 per 24 hours; past it, access is
        "temporarily denied" for the rest of the day (RIPE NCC db-wg announcement of
        2024-05-14, mail-archive.com/db-wg@ripe.net/msg04286.html). Over RDAP the denial is
        HTTP 429 with an RDAP error body titled "Too Many Requests" whose description
        carries the whois ACL message "%ERROR:201: access denied for <ip>" (RIPE-NCC/whois
        pull request #570, 2019, and its test RdapControllerAclTestIntegration
        ``lookup_person_entity_acl_denied``). No source documents a Retry-After, so it
        follows ``retry_after`` (use "none" to be strict). Accounting is after the fact, as
        RIPE's: the answer that crosses the quota is served in full.
        """
        spec = reg.spec
        if spec.person_quota is None:
            return None
        elapsed = max(0.0, now - self._t0)
        day = int(elapsed // spec.quota_day_s)
        if day != reg.person_day:
            reg.person_day, reg.persons_used = day, 0
        if reg.persons_used < spec.person_quota:
            return None
        reg.stats.person_quota_rejections += 1
        reset_in = (day + 1) * spec.quota_day_s - elapsed
        doc = {
            "rdapConformance": ["rdap_level_0"],
            "errorCode": 429,
            "title": "Too Many Requests",
            "description": [
                f"%ERROR:201: access denied for {remote or '127.0.0.1'}",
                "%",
                "% Queries from your IP address have passed the daily limit of controlled objects.",
                "% Access from your host has been temporarily denied.",
                "% For more information, see",
                "% https://docs.db.ripe.net/FAQ/#why-did-i-receive-an-error-201-access-denied",
            ],
        }
        return web.Response(
            status=429,
            body=json.dumps(doc).encode(),
            content_type=RDAP_JSON,
            headers=self._retry_after(reg, reset_in),
        )

    def _throttle(self, reg: _Registry, wait_s: float, now: float) -> web.Response:
        """The over-limit answer; ``throttle_style`` picks which real-world shape."""
        self._violation(reg, now)
        headers = self._retry_after(reg, wait_s)
        style = reg.spec.throttle_style
        if style == "200-notice":
            # Some registries answer a throttled query with a 200 that carries only a notice.
            doc = {
                "rdapConformance": ["rdap_level_0"],
                "notices": [
                    {
                        "title": "Rate Limit Notice",
                        "description": [
                            "Query rate limit exceeded. Please slow down and retry later."
                        ],
                    }
                ],
            }
            return web.Response(
                status=200, body=json.dumps(doc).encode(), content_type=RDAP_JSON, headers=headers
            )
        if style == "403-html":
            html = (
                "<html><head><title>403 Forbidden</title></head><body><h1>Forbidden</h1>"
                "<p>Number of allowed queries exceeded.</p></body></html>"
            )
            return web.Response(status=403, text=html, content_type="text/html", headers=headers)
        if style == "429-notice":
            # LACNIC: 10 queries a minute per IP; over it, 429 with the notice clients key
            # on (ipwhois issue #99 quotes it; a ban of ~5 minutes followed, issues #99 and
            # CZ-NIC/convey#35: model that with block_after).
            rate = reg.spec.rate_limit or {}
            per_s = float(rate.get("rate_per_s", 1.0))
            burst = float(rate.get("burst", max(1.0, per_s)))
            minutes = max(1, round(burst / per_s / 60))
            doc = {
                "rdapConformance": ["rdap_level_0"],
                "errorCode": 429,
                "title": "Too Many Requests",
                "notices": [
                    {
                        "title": "Rate Limit Notice",
                        "description": [
                            f"Rate Limit is maxed at {int(burst)} queries per {minutes} minutes."
                        ],
                    }
                ],
            }
            return web.Response(
                status=429, body=json.dumps(doc).encode(), content_type=RDAP_JSON, headers=headers
            )
        if style == "422-rdap":
            body = _error_body(422, "Too fast", "Queries are being sent too fast; slow down.")
            return web.Response(status=422, body=body, content_type=RDAP_JSON, headers=headers)
        body = _error_body(429, "Too Many Requests", "Query rate limit exceeded.")
        return web.Response(status=429, body=body, content_type=RDAP_JSON, headers=headers)

    async def _serve(self, reg: _Registry, request: web.Request) -> web.StreamResponse | None:
        spec, seed = reg.spec, self.scenario.seed
        tail = request.match_info["tail"]
        now = asyncio.get_running_loop().time()
        if reg.blocked_until is not None:
            if now < reg.blocked_until:
                return self._blocked(reg)
            reg.blocked_until = None
        quota = self._quota(reg, now)
        if quota is not None:
            return quota
        refusal = self._person_quota(reg, now, request.remote)
        if refusal is not None:
            return refusal
        if reg.bucket is not None:
            wait = reg.bucket.take(now)
            if wait > 0:
                return self._throttle(reg, wait, now)
        limit = spec.concurrency_limit
        if limit is not None and spec.concurrency_mode == "reject" and reg.stats.in_flight > limit:
            self._violation(reg, now)
            body = _error_body(
                spec.concurrency_status, "Too Many Requests", "Too many connections."
            )
            return web.Response(
                status=spec.concurrency_status,
                body=body,
                content_type=RDAP_JSON,
                headers=self._retry_after(reg, 1.0),
            )
        sem = reg.sem if limit is not None and spec.concurrency_mode == "queue" else None
        async with sem if sem is not None else contextlib.nullcontext():
            attempt = reg.attempts[tail.lower()] = reg.attempts.get(tail.lower(), 0) + 1
            draw = (seed, spec.name, tail.lower(), attempt)
            if spec.latency_ms:
                mean = float(spec.latency_ms.get("mean", 0))
                jitter = float(spec.latency_ms.get("jitter", 0))
                delay = max(0.0, mean + (2 * _unit(*draw, "lat") - 1) * jitter)
                await asyncio.sleep(delay / 1000)
            u = _unit(*draw, "fault")
            if u < spec.drop_rate:
                if request.transport is not None:
                    request.transport.close()  # no status line at all
                return None
            u -= spec.drop_rate
            if u < spec.error_rate:
                return self._server_error(reg, _h(*draw, "code"))
            u -= spec.error_rate
            status, body, headers = self._answer(reg, tail)
            if status == 200 and u < spec.malformed_rate:
                body = body[: len(body) // 2]  # truncated JSON, as from a cut connection
            elif status == 200 and u - spec.malformed_rate < spec.slow_body_rate:
                return await self._slow(request, body, spec.slow_body_ms)
            return web.Response(status=status, body=body, headers=headers)

    def _server_error(self, reg: _Registry, pick: int) -> web.Response:
        status = (500, 502, 503)[pick % 3]
        if status == 502:  # a proxy in front of the registry, so HTML
            html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
            return web.Response(status=502, text=html, content_type="text/html")
        headers = self._retry_after(reg, 1.0) if status == 503 else {}
        title = "Internal Server Error" if status == 500 else "Service Unavailable"
        return web.Response(
            status=status,
            body=_error_body(status, title, title),
            content_type=RDAP_JSON,
            headers=headers,
        )

    async def _slow(self, request: web.Request, body: bytes, total_ms: float) -> web.StreamResponse:
        resp = web.StreamResponse(status=200, headers={"Content-Type": RDAP_JSON})
        resp.content_length = len(body)
        await resp.prepare(request)
        chunks = 8
        step = math.ceil(len(body) / chunks)
        with contextlib.suppress(ConnectionError):  # the client gave up waiting
            for i in range(chunks):
                await asyncio.sleep(total_ms / 1000 / chunks)
                await resp.write(body[i * step : (i + 1) * step])
            await resp.write_eof()
        return resp

    def _not_found(self, reg: _Registry) -> tuple[int, bytes, dict[str, str]]:
        if reg.spec.not_found == "empty":
            return 404, b"", {}
        if reg.nf_template is not None:
            body = reg.nf_template.raw
        else:
            body = _error_body(404, "Not Found", "The requested object was not found.")
        return 404, body, {"Content-Type": RDAP_JSON}

    def _answer(self, reg: _Registry, tail: str) -> tuple[int, bytes, dict[str, str]]:
        """Status, body and headers for a request that got past every fault."""
        ctype = {"Content-Type": RDAP_JSON}
        kind, _, arg = tail.partition("/")
        if kind == "help" and not arg:
            notices = reg.template.doc.get("notices", [])
            body = {"rdapConformance": ["rdap_level_0"], "notices": notices}
            return 200, json.dumps(body).encode(), ctype
        if kind in _OBJECT_KINDS and arg:
            status, doc, message = self._object(reg, kind, arg)[:3]
            if doc is not None:
                return 200, self._encode_served(reg, doc), ctype
            if status == 404:
                return self._not_found(reg)
            if status == 501 and kind == "nameserver":
                return 501, reg.ns_501, ctype
            title = {400: "Bad Request", 501: "Not Implemented"}.get(status, "Error")
            return status, _error_body(status, title, message), ctype
        if kind != "domain" or not arg or "/" in arg:
            return 400, _error_body(400, "Bad Request", "Unsupported query."), ctype
        norm = _normalize(arg)
        if norm is None:
            return 400, _error_body(400, "Bad Request", "Invalid domain name."), ctype
        if reg.spec.role == "rir":
            return self._not_found(reg)  # forward domains are not in a RIR's database
        found = self._plan(*norm)
        if found is None:
            return self._not_found(reg)
        owner, plan = found
        handle = self._registry_handle(owner, plan)
        if reg.spec.role == "registry":
            if owner is not reg:
                return self._not_found(reg)
            related = self._related_url(reg, plan)
        else:
            # A registrar answers only for the names its registry refers to it.
            if plan.referral != reg.spec.name:
                return self._not_found(reg)
            if reg.spec.not_found_rate and (
                _unit(self.scenario.seed, "nf", reg.spec.name, plan.key) < reg.spec.not_found_rate
            ):
                return self._not_found(reg)
            related = None
        tpl = reg.template
        self_url = (
            f"{self.base_url(reg.spec.name)}domain/{_style(plan.key, tpl.upper, tpl.trailing_dot)}"
        )
        doc = _render(
            tpl,
            plan,
            self_url=self_url,
            related_url=related,
            handle=handle,
            ns_base=self.base_url(reg.spec.name),
        )
        return 200, self._encode_served(reg, doc), ctype

    def _encode_served(self, reg: _Registry, doc: dict[str, Any]) -> bytes:
        """Encode a 200 answer, counting the person objects it carries."""
        persons = _count_persons(doc)
        reg.stats.persons_served += persons
        reg.persons_used += persons
        return msgspec.json.encode(doc)


# --------------------------------------------------------------------------- sync wrappers


class SimulatorThread:
    """The same simulator served from a background thread with its own event loop.

    For synchronous code (the CLI demo, subprocess tests). Use as a context manager or
    call :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        scenario: Scenario | str | Path | Mapping[str, Any] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.simulator = Simulator(scenario, host=host, port=port)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> SimulatorThread:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, coro: Any) -> Any:
        if self._loop is None:
            coro.close()  # never scheduled: close it so it is not reported as un-awaited
            raise RuntimeError("the simulator thread is not running; call start() first")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    def start(self) -> None:
        """Start the loop thread and bind every port; returns once serving."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=loop.run_forever, name="rdaplab-simulator", daemon=True
        )
        self._thread.start()
        try:
            self._call(self.simulator.start())
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop serving and join the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):
            self._call(self.simulator.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        self._loop = self._thread = None

    def base_url(self, registry: str) -> str:
        return self.simulator.base_url(registry)

    def write_bootstrap(self, directory: str | Path) -> Path:
        return self.simulator.write_bootstrap(directory)

    def expected(self, name: str) -> ExpectedDomain | None:
        return self.simulator.expected(name)

    def expected_object(
        self, kind: str, query: str | int, registry: str | None = None
    ) -> ExpectedObject:
        """See :meth:`Simulator.expected_object` (pure computation, no server call)."""
        return self.simulator.expected_object(kind, query, registry)

    def stats(self) -> dict[str, RegistryStats]:
        async def snap() -> dict[str, RegistryStats]:
            return self.simulator.stats()

        result: dict[str, RegistryStats] = self._call(snap())
        return result

    def lower_bound(self, names: Iterable[str]) -> dict[str, Any]:
        """See :meth:`Simulator.lower_bound` (pure computation, no server call)."""
        return self.simulator.lower_bound(names)

    def reset_stats(self) -> None:
        async def reset() -> None:
            self.simulator.reset_stats()

        self._call(reset())


def run_forever(
    scenario: Scenario | str | Path | Mapping[str, Any] | None,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    bootstrap_dir: str | Path | None = None,
) -> None:
    """Serve a scenario until Ctrl-C (``rdaplab simulate``), printing each registry's URL."""

    async def main() -> None:
        async with Simulator(scenario, host=host, port=port) as sim:
            for spec in sim.scenario.registries:
                served = ", ".join(spec.tlds) or spec.role
                if spec.role == "rir":
                    served = f"{spec.rir}: " + ", ".join(
                        [*spec.ip_ranges, *(f"AS{v}" for v in spec.asn_ranges)]
                    )
                what = "dead (refuses connections)" if spec.dead else served
                print(f"{sim.base_url(spec.name)}\t{what}", flush=True)
            if bootstrap_dir is not None:
                path = sim.write_bootstrap(bootstrap_dir)
                print(f"bootstrap written to {path}", flush=True)
            stop = asyncio.Event()
            # SIGTERM (e.g. from a test harness) stops as cleanly as Ctrl-C; not on Windows.
            with contextlib.suppress(NotImplementedError, AttributeError):
                asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
            await stop.wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
