"""IANA-format bootstrap files (RFC 9224, RFC 8521) that route a client to the simulator."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path

from rdaplab._data import bootstrap_dir
from rdaplab.simulator.registry import Registry

_NUMBER_FILES = ("ipv4.json", "ipv6.json", "asn.json", "object-tags.json")


def write_bootstrap(
    directory: str | Path, regs: Iterable[Registry], base_url: Callable[[str], str]
) -> Path:
    """Write ``dns.json`` for the domain registries and the number/tag files for the RIRs.

    See :meth:`Simulator.write_bootstrap`; ``base_url`` maps a registry name to its URL.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    regs = list(regs)
    services = [
        [list(r.spec.tlds), [base_url(r.spec.name)]] for r in regs if r.spec.role == "registry"
    ]
    dns = {
        "description": "RDAP bootstrap file for Domain Name System registrations (rdaplab simulator)",
        "publication": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "services": services,
        "version": "1.0",
    }
    (out / "dns.json").write_text(json.dumps(dns, indent=2) + "\n", encoding="utf-8")
    rirs = [r for r in regs if r.spec.role == "rir"]
    if not rirs:
        # No simulated RIR: the real IANA snapshot, as a client without overrides has.
        for fname in _NUMBER_FILES:
            (out / fname).write_bytes((bootstrap_dir() / fname).read_bytes())
        return out
    for fname, (what, entries) in _rir_services(rirs, base_url).items():
        doc = {
            "description": f"RDAP bootstrap file for {what} (rdaplab simulator)",
            "publication": dns["publication"],
            "services": entries,
            "version": "1.0",
        }
        (out / fname).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return out


def _rir_services(
    rirs: list[Registry], base_url: Callable[[str], str]
) -> dict[str, tuple[str, list[list[list[str]]]]]:
    """File name -> (what it maps, services) for the RIRs' ranges and tags, and nothing else."""
    files: dict[str, tuple[str, list[list[list[str]]]]] = {
        "ipv4.json": ("IPv4 address allocations", []),
        "ipv6.json": ("IPv6 address allocations", []),
        "asn.json": ("Autonomous System Number allocations", []),
        "object-tags.json": ("service provider object tags", []),
    }
    for r in rirs:
        url = [base_url(r.spec.name)]
        for family in (4, 6):
            nets = [str(n) for n in r.networks if n.version == family]
            if nets:
                files[f"ipv{family}.json"][1].append([nets, url])
        if r.asns:
            files["asn.json"][1].append([[f"{lo}-{hi}" for lo, hi in r.asns], url])
        if r.spec.entity_tags:
            contact = [f"{r.spec.name}@rdaplab-simulator.invalid"]
            files["object-tags.json"][1].append([contact, list(r.spec.entity_tags), url])
    return files
