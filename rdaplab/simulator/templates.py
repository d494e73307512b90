"""Recorded real answers (``datasets/responses``) parsed once, to be copied per request.

Also the few documents the simulator writes itself (the minimal RDAP error body).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from rdaplab._data import responses_dir
from rdaplab.simulator.syntax import ARIN_NET, addr_style, handle_style, loose_address

RDAP_JSON = "application/rdap+json"

_CLASS_OF = {"ip": "ip network", "autnum": "autnum", "entity": "entity"}


def error_body(code: int, title: str, description: str) -> bytes:
    """A minimal RDAP error document (RFC 9083 §6), encoded."""
    return json.dumps(
        {
            "rdapConformance": ["rdap_level_0"],
            "errorCode": code,
            "title": title,
            "description": [description],
        }
    ).encode()


def template_path(rel: str) -> Path:
    """A template path as scenarios give it: relative to ``datasets/responses``, or absolute."""
    p = Path(rel)
    return p if p.is_absolute() else responses_dir() / p


def vcard_get(entity: Mapping[str, Any], prop: str) -> list[Any] | None:
    """The first jCard property ``prop`` of ``entity`` (``[name, params, type, value]``)."""
    vcard = entity.get("vcardArray")
    if isinstance(vcard, list) and len(vcard) > 1 and isinstance(vcard[1], list):
        for item in vcard[1]:
            if isinstance(item, list) and len(item) >= 4 and item[0] == prop:
                return item
    return None


def secure_dns_key(doc: Mapping[str, Any]) -> str | None:
    """The member holding ``secureDNS`` in any case (AFNIC serves ``secureDns``), if any."""
    if "secureDNS" in doc:
        return "secureDNS"
    return next((k for k in doc if isinstance(k, str) and k.lower() == "securedns"), None)


def dnssec_of(doc: Mapping[str, Any]) -> bool | None:
    """Whether an answer says its delegation is signed, read as rdaplab's parser reads it.

    ``delegationSigned`` (a boolean, or "true" / "false"), else True when DS or key data is
    present; None when the answer carries no ``secureDNS`` (or nothing readable in it).
    """
    key = secure_dns_key(doc)
    sd = doc.get(key) if key is not None else None
    if not isinstance(sd, dict):
        return None
    signed = sd.get("delegationSigned")
    if isinstance(signed, bool):
        return signed
    if isinstance(signed, str) and signed.strip().lower() in ("true", "false"):
        return signed.strip().lower() == "true"
    if sd.get("dsData") or sd.get("keyData"):
        return True
    return None


def registrar_entity(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    """The entity of role "registrar" in a domain answer, if any."""
    for ent in doc.get("entities", []) or []:
        if isinstance(ent, dict) and "registrar" in [str(r).lower() for r in ent.get("roles", [])]:
            return ent
    return None


class _Parsed:
    """A JSON template whose ``fresh()`` returns an independent deep copy."""

    def __init__(self, path: Path) -> None:
        self.raw = path.read_bytes()
        doc = json.loads(self.raw)
        # The JSON is re-encoded compactly once; decoding it per request is a cheap deep copy.
        self._compact = msgspec.json.encode(doc)
        self.doc: dict[str, Any] = doc

    def fresh(self) -> dict[str, Any]:
        doc: dict[str, Any] = msgspec.json.decode(self._compact)
        return doc


class DomainTemplate(_Parsed):
    """A domain answer, with the quirks it prints names in and the fields it carries."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        doc = self.doc
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
        reg = registrar_entity(doc)
        self.has_registrar_fn = reg is not None and vcard_get(reg, "fn") is not None
        self.has_iana_id = reg is not None and any(
            p.get("type") == "IANA Registrar ID" for p in reg.get("publicIds", [])
        )
        self.has_handle = "handle" in doc
        status = doc.get("status")
        self.status: list[str] | None = (
            [str(s) for s in status] if isinstance(status, list) and status else None
        )
        self.dnssec = dnssec_of(doc)


class ObjTemplate(_Parsed):
    """An ip / autnum / entity answer parsed once, with the quirks it prints values in."""

    def __init__(self, rel: str, kind: str) -> None:
        super().__init__(template_path(rel))
        self.rel = rel
        doc = self.doc
        start = loose_address(doc.get("startAddress"))
        self.version = start.version if start is not None else None
        # ARIN prints "2001:4860:0000:..." / "...:FFFF": the case shows in one of the two.
        start_style, end_style = (
            addr_style(doc.get("startAddress")),
            addr_style(doc.get("endAddress")),
        )
        upper = start_style[1] or end_style[1]
        self.start_style = (start_style[0], upper, start_style[2])
        self.end_style = (end_style[0], upper, end_style[2])
        handle = doc.get("handle")
        self.handle = handle if isinstance(handle, str) else ""
        self.handle_style = handle_style(handle)
        parent = doc.get("parentHandle")
        self.parent_style = handle_style(parent)
        m = ARIN_NET.match(parent) if isinstance(parent, str) else None
        self.parent_serial = m.group(1) if m else "0"
        first = doc.get("startAutnum")
        self.autnum = str(first).upper().removeprefix("AS") if first is not None else ""
        fn = vcard_get(doc, "fn")
        self.fn = str(fn[3]) if fn is not None and isinstance(fn[3], str) else None


def template_problem(path: Path, kind: str) -> str | None:
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
        loose_address(doc.get("startAddress")) is None
        or loose_address(doc.get("endAddress")) is None
    ):
        return "has no usable startAddress/endAddress"
    if kind == "autnum" and "startAutnum" not in doc:
        return "has no startAutnum"
    if kind == "entity" and not isinstance(doc.get("handle"), str):
        return "has no handle"
    return None


def default_templates(rir: str, kind: str) -> list[str]:
    """Every real answer of ``kind`` from ``rir`` (LACNIC entities: NIC.br's, its NIR)."""
    dirs = [rir, "registro-br"] if rir == "lacnic" else [rir]
    for folder in dirs:
        found = [
            f"{folder}/{p.name}"
            for p in sorted((responses_dir() / folder).glob(f"{kind}-*.json"))
            if template_problem(p, kind) is None  # skips e.g. APNIC's ip-history-*
        ]
        if found:
            return found
    return []
