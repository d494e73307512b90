"""Object answers: ip, autnum and entity (role "rir") and nameserver queries.

Each answer is a deep copy of one real answer, picked by a stable hash of the object, with
the fields that identify the object made consistent with the query (``docs/simulator.md``).
One function computes both the served document and :class:`ExpectedObject`, so the two
cannot disagree.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rdaplab.simulator.domains import absent_by_name, derive_handle, style_name
from rdaplab.simulator.hashing import stable_hash
from rdaplab.simulator.registry import Registry
from rdaplab.simulator.syntax import (
    PLAIN,
    Net,
    fmt_addr,
    loose_address,
    net_handle,
    normalize_name,
    parse_ip_query,
)
from rdaplab.simulator.templates import ObjTemplate

OBJECT_KINDS = ("ip", "autnum", "entity", "nameserver")
KIND_ALIASES = {"asn": "autnum", "network": "ip", "ns": "nameserver"}

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


def _same_type(old: object, number: int) -> int | str:
    return str(number) if isinstance(old, str) else number


def count_persons(node: object) -> int:
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
                count += count_persons(value)
    elif isinstance(node, list):
        for value in node:
            count += count_persons(value)
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


#: (status, document when 200, error message, expected values) of one object query.
Answer = tuple[int, dict[str, Any] | None, str, ExpectedObject]


def _fail(exp: ExpectedObject, status: int, message: str) -> Answer:
    exp.status = status
    return status, None, message, exp


def _set_country(doc: dict[str, Any], exp: ExpectedObject, rir: str | None, pick: int) -> None:
    """A country from the RIR's region, when the template carries one at all."""
    if "country" in doc and rir:
        countries = _RIR_COUNTRIES[rir]
        doc["country"] = exp.country = countries[(pick >> 16) % len(countries)]


class ObjectAnswers:
    """Answers the object queries of one scenario's registries.

    Parameters
    ----------
    seed
        The scenario's seed (template picks and generated values hash it).
    regs, by_tld
        The registries by name, and the domain registries by TLD.
    base_url
        A registry name -> its base URL (answers link back to the simulated service).
    """

    def __init__(
        self,
        seed: int,
        regs: Mapping[str, Registry],
        by_tld: Mapping[str, Registry],
        base_url: Callable[[str], str],
    ) -> None:
        self.seed, self.regs, self.by_tld, self.base_url = seed, regs, by_tld, base_url

    def answer(self, reg: Registry, kind: str, arg: str) -> Answer:
        """(status, document when 200, error message, expected values) for one query.

        The single source of truth of both the served answer and :meth:`Simulator.expected_object`.
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

    def _pick(self, reg: Registry, kind: str, key: str, version: int | None = None) -> ObjTemplate:
        tpls = reg.objects[kind]
        if version is not None:
            tpls = [t for t in tpls if t.version == version] or tpls
        return tpls[stable_hash(self.seed, reg.spec.name, "tpl", kind, key) % len(tpls)]

    def _network_for(self, reg: Registry, owner: Net, query: Net) -> Net:
        """The simulated network answering ``query``: a prefix inside ``owner`` whose length
        is a stable hash of the /16 (IPv4) or /32 (IPv6) around the query, so every address
        of one network gets the same object. A query broader than that gets itself."""
        v4 = query.version == 4
        block_len = max(owner.prefixlen, 16 if v4 else 32)
        lo, hi = block_len, max(block_len, 24 if v4 else 48)
        block = query.supernet(new_prefix=block_len) if query.prefixlen > block_len else query
        length = lo + stable_hash(self.seed, reg.spec.name, "net", block) % (hi - lo + 1)
        length = max(owner.prefixlen, min(length, query.prefixlen))
        return query.supernet(new_prefix=length) if query.prefixlen > length else query

    def _ip(self, reg: Registry, arg: str, exp: ExpectedObject) -> Answer:
        try:
            query = parse_ip_query(arg)
        except ValueError:
            return _fail(exp, 400, "Invalid IP address or prefix.")
        exp.query = str(query) if "/" in arg else str(query.network_address)
        owner = next(
            (n for n in reg.networks if n.version == query.version and query.subnet_of(n)),  # type: ignore[arg-type]
            None,
        )
        if owner is None:
            return _fail(exp, 404, "Not in this registry's address space.")
        net = self._network_for(reg, owner, query)
        tpl = self._pick(reg, "ip", str(net), net.version)
        same = tpl.version == net.version  # the template's address quirks only transfer then
        pick = stable_hash(self.seed, reg.spec.name, "ipname", net)
        doc = tpl.fresh()
        doc["startAddress"] = fmt_addr(net.network_address, tpl.start_style if same else PLAIN)
        doc["endAddress"] = fmt_addr(net.broadcast_address, tpl.end_style if same else PLAIN)
        doc["ipVersion"] = f"v{net.version}"
        if "cidr0_cidrs" in doc:
            prefix = {f"v{net.version}prefix": str(net.network_address), "length": net.prefixlen}
            doc["cidr0_cidrs"] = [prefix]
        doc["handle"] = exp.handle = net_handle(net, tpl.handle_style)
        if "parentHandle" in doc:
            parent = owner if owner.prefixlen < net.prefixlen else owner.supernet(new_prefix=0)
            doc["parentHandle"] = exp.parent_handle = net_handle(
                parent, tpl.parent_style, tpl.parent_serial
            )
        if "name" in doc:
            name = doc["name"]
            if isinstance(name, str) and loose_address(name.split(" - ")[0]) is not None:
                doc["name"] = net_handle(net, "range" if " - " in name else "cidr")  # LACNIC
            else:
                doc["name"] = _styled_word(_NET_WORDS, pick, name, str(pick % 1000))
            exp.name = doc["name"]
        _set_country(doc, exp, reg.spec.rir, pick)
        base = self.base_url(reg.spec.name)
        _relink(doc, f"{base}ip/{net}", base)
        exp.start_address, exp.end_address = str(net.network_address), str(net.broadcast_address)
        exp.cidrs, exp.ip_version = [str(net)], net.version
        exp.persons, exp.template = count_persons(doc), tpl.rel
        return 200, doc, "", exp

    def _autnum(self, reg: Registry, arg: str, exp: ExpectedObject) -> Answer:
        if not (arg.isascii() and arg.isdigit() and len(arg) <= 10) or int(arg) > 4_294_967_295:
            return _fail(exp, 400, "Invalid AS number.")
        number = int(arg)
        exp.query = str(number)
        if not any(lo <= number <= hi for lo, hi in reg.asns):
            return _fail(exp, 404, "Not in this registry's AS number space.")
        tpl = self._pick(reg, "autnum", str(number))
        doc = tpl.fresh()
        doc["startAutnum"] = _same_type(doc.get("startAutnum"), number)
        if "endAutnum" in doc:
            doc["endAutnum"] = _same_type(doc["endAutnum"], number)
        if "handle" in doc:
            # registro.br prints the bare number, everyone else "AS" + number
            doc["handle"] = str(number) if tpl.handle.isdigit() else f"AS{number}"
            exp.handle = doc["handle"]
        pick = stable_hash(self.seed, reg.spec.name, "asname", number)
        if isinstance(doc.get("name"), str):
            name = doc["name"]
            if tpl.autnum and tpl.autnum in name:  # LACNIC "28000", NIC.br "ASN53170"
                doc["name"] = name.replace(tpl.autnum, str(number))
            else:
                doc["name"] = _styled_word(_AS_WORDS, pick, name, str(number))
            exp.name = doc["name"]
        _set_country(doc, exp, reg.spec.rir, pick)
        base = self.base_url(reg.spec.name)
        _relink(doc, f"{base}autnum/{number}", base)
        exp.start_autnum = exp.end_autnum = number
        exp.persons, exp.template = count_persons(doc), tpl.rel
        return 200, doc, "", exp

    def _entity(self, reg: Registry, arg: str, exp: ExpectedObject) -> Answer:
        handle = arg
        head, sep, tag = handle.rpartition("-")
        if (
            not handle.isprintable()
            or any(c.isspace() for c in handle)
            or len(handle) > 255
            or (sep and not (head and tag))
        ):
            return _fail(exp, 400, "Invalid entity handle.")
        if sep and tag.upper() not in reg.tags:
            # Untagged handles (ARIN org "GOVI", NIC.br "GJM3") are answered; a foreign
            # tag is not this registry's, as RIPE answers for "JNIC1-AP".
            return _fail(exp, 404, "Not a handle of this registry.")
        if not reg.objects["entity"]:
            return _fail(exp, 501, "entity queries are not supported here.")
        tpl = self._pick(reg, "entity", handle.upper())
        served = handle.upper() if tpl.handle == tpl.handle.upper() else handle
        exp.query = served
        doc = tpl.fresh()
        doc["handle"] = exp.handle = served
        base = self.base_url(reg.spec.name)
        _relink(doc, f"{base}entity/{served}", base)
        exp.name = tpl.fn
        exp.persons, exp.template = count_persons(doc), tpl.rel
        return 200, doc, "", exp

    def _nameserver(self, reg: Registry, arg: str, exp: ExpectedObject) -> Answer:
        mode = reg.spec.nameserver_queries
        if mode == "501":
            return _fail(exp, 501, "Nameserver queries are not supported.")
        norm = normalize_name(arg) if "/" not in arg else None
        if norm is None:
            return _fail(exp, 400, "Invalid nameserver name.")
        key, unicode = norm
        exp.query = key
        if (
            mode == "404"
            or self.by_tld.get(key.rsplit(".", 1)[-1]) is not reg
            or absent_by_name(key)
        ):
            return _fail(exp, 404, "Nameserver not found.")
        tpl = reg.template
        obj: dict[str, Any] = copy.deepcopy(tpl.ns_proto) if tpl.ns_proto else {}
        obj["objectClassName"] = "nameserver"
        obj["ldhName"] = exp.ldh_name = style_name(key, tpl.ns_upper, tpl.ns_dot)
        if "unicodeName" in obj or unicode != key:
            obj["unicodeName"] = unicode + ("." if tpl.ns_dot else "")
        if isinstance(obj.get("handle"), str):
            obj["handle"] = derive_handle(obj["handle"], tpl.ns_name, key, stable_hash("ns", key))
            exp.handle = obj["handle"]
        glue = obj.get("ipAddresses")
        if isinstance(glue, dict):
            # Documentation addresses (RFC 5737 / 3849): real-looking glue, never routable.
            n = stable_hash(self.seed, "glue", key)
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
        exp.persons = count_persons(doc)
        return 200, doc, "", exp

    def route(self, kind: str, query: str) -> Registry | None:
        """The registry the written bootstrap sends ``query`` to (None: no entry)."""
        if kind == "nameserver":
            norm = normalize_name(query)
            return self.by_tld.get(norm[0].rsplit(".", 1)[-1]) if norm else None
        rirs = [r for r in self.regs.values() if r.spec.role == "rir"]
        if kind == "ip":
            try:
                net = parse_ip_query(query)
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
