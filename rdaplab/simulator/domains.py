"""Domain answers: the values a simulated name gets, and the answer built from a template.

Every value (dates, registrar, nameservers, handle) is a stable hash of the name, so a
registry and its registrar agree, and :meth:`Simulator.expected` can say what is served.
At epochs after 0, :mod:`.epochs` changes a name's :class:`Plan` (transfers, renewals,
status values, DNSSEC...); the fields it sets are rendered here.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from rdaplab.simulator.hashing import stable_hash, unit
from rdaplab.simulator.registry import Registry
from rdaplab.simulator.scenario import RegistrySpec
from rdaplab.simulator.templates import (
    RDAP_JSON,
    DomainTemplate,
    registrar_entity,
    secure_dns_key,
    vcard_get,
)

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

_DATE_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$")
_EARLIEST = datetime(1995, 1, 1, tzinfo=timezone.utc)  # first simulated registration
#: The fixed "today" of epoch 0 (output must not drift); later epochs count from it.
TODAY = datetime(2025, 12, 31, tzinfo=timezone.utc)


def add_years(dt: datetime, years: int) -> datetime:
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
    # The RDAP status values served (registry's, else registrar's), None when neither
    # template has any; and secureDNS.delegationSigned, None when no answer carries one.
    status: list[str] | None = None
    dnssec: bool | None = None


@dataclass
class Plan:
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
    # Set by epoch changes (.epochs); the defaults leave the template's values alone.
    status_added: list[str] = field(default_factory=list)  # e.g. "client hold"
    dnssec: bool | None = None  # secureDNS.delegationSigned; None: as the template has it
    ds_seed: int = 0  # the DS record invented when DNSSEC is switched on
    transferred: datetime | None = None  # date of the last transfer ("transfer" event)


def absent_by_name(key: str) -> bool:
    """Names whose first label says they do not exist (``nx-*``, ``*nonexistent*``)."""
    first = key.split(".", 1)[0]
    return first.startswith("nx-") or "nonexistent" in first


def drawn_absent(spec: RegistrySpec, seed: int, key: str) -> bool:
    """Whether ``spec``'s ``not_found_rate`` draw makes ``key`` absent there."""
    return bool(spec.not_found_rate) and unit(seed, "nf", spec.name, key) < spec.not_found_rate


def registrar_of(regs: Mapping[str, Registry], referral: str | None, draw: int) -> tuple[str, str]:
    """The registrar (name, IANA ID): the referral target's identity, else REGISTRARS[draw]."""
    target = regs[referral].spec if referral else None
    if target is not None and target.registrar_name and target.registrar_iana_id:
        return (target.registrar_name, target.registrar_iana_id)
    return REGISTRARS[draw % len(REGISTRARS)]


def pick_registrar(
    reg: Registry, regs: Mapping[str, Registry], key: str, *salt: object
) -> tuple[tuple[str, str], str | None]:
    """The registrar of ``key`` and the registrar registry its answer refers to (or None).

    ``salt`` (empty at epoch 0) draws a fresh pick for a re-registration.
    """
    spec = reg.spec
    referral = None
    if spec.referrals:
        referral = spec.referrals[stable_hash("refer", spec.name, key, *salt) % len(spec.referrals)]
    return registrar_of(regs, referral, stable_hash("registrar", key, *salt)), referral


def nameservers_at(provider: str, count: int) -> list[str]:
    return [f"ns{i}.{provider}" for i in range(1, count + 1)]


def plan_name(
    reg: Registry, regs: Mapping[str, Registry], seed: int, key: str, unicode: str
) -> Plan | None:
    """The values of ``key`` under its registry ``reg`` at epoch 0 (None: it does not exist)."""
    spec = reg.spec
    if absent_by_name(key) or drawn_absent(spec, seed, key):
        return None
    registrar, referral = pick_registrar(reg, regs, key)
    span = (datetime(2024, 12, 31, tzinfo=timezone.utc) - _EARLIEST).total_seconds()
    registered = _EARLIEST + timedelta(seconds=int(unit("reg", key) * span))
    expires = add_years(registered, 2026 - registered.year + stable_hash("exp", key) % 5)
    horizon = (min(expires, TODAY) - registered).total_seconds()
    changed = registered + timedelta(seconds=int(unit("chg", key) * horizon))
    provider = NS_PROVIDERS[stable_hash("ns", key) % len(NS_PROVIDERS)]
    count = 2 + stable_hash("nscount", key) % 3
    return Plan(
        key=key,
        unicode=unicode,
        handle_seed=stable_hash("handle", key),
        registered=registered,
        expires=expires,
        changed=changed,
        nameservers=nameservers_at(provider, count),
        registrar=registrar,
        referral=referral,
    )


def served_status(template_status: list[str] | None, added: list[str]) -> list[str] | None:
    """A template's status values plus those ``added`` by changes (None: no status at all).

    ``"active"`` (EPP ``ok``, which RFC 5731 allows with no other status) is dropped once a
    change adds a status.
    """
    if not added:
        return None if template_status is None else list(template_status)
    kept = [s for s in template_status or [] if s != "active"]
    return kept + [s for s in added if s not in kept]


def plan_dnssec(reg: Registry, registrar: Registry | None, plan: Plan) -> bool | None:
    """The DNSSEC state a client reads for ``plan``: registry answer first, then registrar."""
    if plan.dnssec is not None:
        return plan.dnssec
    if reg.template.dnssec is not None or registrar is None:
        return reg.template.dnssec
    return registrar.template.dnssec


def registry_handle(reg: Registry, plan: Plan) -> str | None:
    """The handle the registry serves for ``plan``'s name (None: its template has none)."""
    tpl = reg.template
    if not tpl.has_handle:
        return None
    served = style_name(plan.key, tpl.upper, tpl.trailing_dot)
    return derive_handle(str(tpl.doc["handle"]), tpl.name, served, plan.handle_seed)


def expected_domain(
    reg: Registry, plan: Plan, registrar: Registry | None, registrar_url: str | None
) -> ExpectedDomain:
    """What ``reg`` (and ``registrar``, when it refers there) serve for ``plan``'s name."""
    tpls = [reg.template] if registrar is None else [reg.template, registrar.template]

    def served(pred: Any, value: Any) -> Any:
        return value if any(pred(t) for t in tpls) else None

    return ExpectedDomain(
        name=plan.key,
        unicode_name=plan.unicode,
        handle=registry_handle(reg, plan),
        registrar=served(lambda t: t.has_registrar_fn, plan.registrar[0]),
        registrar_iana_id=served(lambda t: t.has_iana_id, plan.registrar[1]),
        registration_date=served(lambda t: "registration" in t.events, plan.registered),
        expiration_date=served(lambda t: "expiration" in t.events, plan.expires),
        last_changed_date=served(lambda t: "last changed" in t.events, plan.changed),
        nameservers=list(plan.nameservers) if any(t.ns_proto for t in tpls) else [],
        registry=reg.spec.name,
        registrar_url=registrar_url,
        # A registry's status wins over its registrar's, as rdaplab merges them.
        status=served_status(next((t.status for t in tpls if t.status), None), plan.status_added),
        dnssec=plan_dnssec(reg, registrar, plan),
    )


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


def derive_handle(template_handle: str, template_name: str, served_name: str, n: int) -> str:
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


def style_name(name: str, upper: bool, dot: bool) -> str:
    return (name.upper() if upper else name) + ("." if dot else "")


def _set_events(events: list[Any], plan: Plan) -> None:
    values = {
        "registration": plan.registered,
        "expiration": plan.expires,
        "last changed": plan.changed,
        "last update": plan.changed,  # MarkMonitor's word for "last changed"
    }
    if plan.transferred is not None:
        values["transfer"] = plan.transferred
    for ev in events:
        if isinstance(ev, dict) and ev.get("eventAction") in values:
            ev["eventDate"] = _format_like(str(ev.get("eventDate", "")), values[ev["eventAction"]])


def _set_registrar(entity: dict[str, Any], plan: Plan) -> None:
    reg_name, reg_id = plan.registrar
    old_ids = [p.get("identifier") for p in entity.get("publicIds", []) or []]
    for item in (vcard_get(entity, "fn"), vcard_get(entity, "org")):
        if item is not None and isinstance(item[3], str):
            item[3] = reg_name
    for pid in entity.get("publicIds", []) or []:
        if pid.get("type") == "IANA Registrar ID":
            pid["identifier"] = reg_id
    if entity.get("handle") in old_ids and entity.get("handle"):
        entity["handle"] = reg_id  # registries use the IANA ID as the registrar's handle


def _set_secure_dns(doc: dict[str, Any], plan: Plan) -> None:
    """Set ``secureDNS.delegationSigned`` (adding the member if the template has none)."""
    key = secure_dns_key(doc) or "secureDNS"
    sd = doc.get(key)
    if not isinstance(sd, dict):
        sd = doc[key] = {}
    sd["delegationSigned"] = bool(plan.dnssec)
    sd.pop("keyData", None)
    if plan.dnssec:
        digest = hashlib.blake2b(f"{plan.key}/{plan.ds_seed}".encode(), digest_size=32)
        sd["dsData"] = [
            {
                "keyTag": plan.ds_seed % 65536,
                "algorithm": 13,
                "digest": digest.hexdigest().upper(),
                "digestType": 2,
            }
        ]
    else:
        sd.pop("dsData", None)


def _nameservers(
    tpl: DomainTemplate, proto: dict[str, Any], plan: Plan, ns_base: str
) -> list[dict[str, Any]]:
    """The template's first nameserver object, once for each of the plan's hosts."""
    servers = []
    for ns in plan.nameservers:
        obj = copy.deepcopy(proto)
        obj["ldhName"] = style_name(ns, tpl.ns_upper, tpl.ns_dot)
        if "unicodeName" in obj:
            obj["unicodeName"] = ns + ("." if tpl.ns_dot else "")
        if isinstance(obj.get("handle"), str):
            obj["handle"] = derive_handle(obj["handle"], tpl.ns_name, ns, stable_hash("ns", ns))
        obj.pop("ipAddresses", None)  # glue would be fiction for invented hosts
        for link in obj.get("links", []) or []:
            if isinstance(link, dict) and link.get("rel") == "self":
                link["href"] = link["value"] = f"{ns_base}nameserver/{ns}"
        servers.append(obj)
    return servers


def render_domain(
    tpl: DomainTemplate,
    plan: Plan,
    *,
    self_url: str,
    related_url: str | None,
    handle: str | None,
    ns_base: str,
) -> dict[str, Any]:
    """Deep-copy the template and set every name-dependent field by walking the structure."""
    doc = tpl.fresh()
    doc["ldhName"] = style_name(plan.key, tpl.upper, tpl.trailing_dot)
    if "unicodeName" in doc or plan.unicode != plan.key:
        doc["unicodeName"] = plan.unicode + ("." if tpl.trailing_dot else "")
    if handle is None:
        doc.pop("handle", None)
    elif "handle" in doc:
        doc["handle"] = handle
    _set_events(doc.get("events", []), plan)
    if plan.status_added:
        doc["status"] = served_status(tpl.status, plan.status_added)
    if plan.dnssec is not None:
        _set_secure_dns(doc, plan)
    if tpl.ns_proto is not None:
        doc["nameservers"] = _nameservers(tpl, tpl.ns_proto, plan, ns_base)
    reg = registrar_entity(doc)
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
