"""A loopback RDAP registry simulator: many virtual registries serving templated real answers.

Each virtual registry listens on its own 127.0.0.1 port (the client keys its per-host limiter
on ``host:port``) under its own path prefix, and answers ``GET {base}domain/{NAME}`` with a
real response from ``datasets/responses`` whose name-dependent fields are rewritten
deterministically. Faults (rate limits, 5xx, truncated bodies, slow bodies, dropped
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
    "ExpectedDomain",
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

_ROLES = ("registry", "registrar")
_NOT_FOUND = ("rdap", "empty")
_RETRY_AFTER = ("seconds", "http-date", "none")
_CONC_MODES = ("reject", "queue")
_THROTTLE_STYLES = ("429", "403-html", "422-rdap", "200-notice")
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
    tlds: list[str]
    template: str  # relative to datasets/responses (or absolute)
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
    for key in ("name", "tlds", "template"):
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
        their refused port); ``ipv4.json``, ``ipv6.json``, ``asn.json`` and
        ``object-tags.json`` are copied from the bundled IANA snapshot.

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
        for fname in ("ipv4.json", "ipv6.json", "asn.json", "object-tags.json"):
            (out / fname).write_bytes((bootstrap_dir() / fname).read_bytes())
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
        if kind in ("nameserver", "entity", "ip", "autnum") and arg:
            return 501, _error_body(501, "Not Implemented", f"{kind} queries"), ctype
        if kind != "domain" or not arg or "/" in arg:
            return 400, _error_body(400, "Bad Request", "Unsupported query."), ctype
        norm = _normalize(arg)
        if norm is None:
            return 400, _error_body(400, "Bad Request", "Invalid domain name."), ctype
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
        return 200, msgspec.json.encode(doc), ctype


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
                what = (
                    "dead (refuses connections)" if spec.dead else ", ".join(spec.tlds) or spec.role
                )
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
