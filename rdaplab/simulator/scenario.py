"""Scenarios: the virtual registries to serve, their behaviour, and their validation.

A scenario is JSON (``datasets/scenarios``) or an equivalent mapping; :meth:`Scenario.load`
rejects anything it would not serve faithfully, naming the registry and field.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeAlias

from rdaplab._data import datasets_dir, responses_dir
from rdaplab.simulator.syntax import asn_range
from rdaplab.simulator.templates import default_templates, template_path, template_problem

#: The five Regional Internet Registries a ``role: "rir"`` registry can stand for.
RIRS: tuple[str, ...] = ("afrinic", "apnic", "arin", "lacnic", "ripe")

_ROLES = ("registry", "registrar", "rir")
_NS_QUERIES = ("serve", "404", "501")
_NOT_FOUND = ("rdap", "empty")
_RETRY_AFTER = ("seconds", "http-date", "none")
_CONC_MODES = ("reject", "queue")
_THROTTLE_STYLES = ("429", "403-html", "422-rdap", "200-notice", "429-notice", "503")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_RIR_ONLY = (
    "rir",
    "ip_ranges",
    "asn_ranges",
    "entity_tags",
    "ip_templates",
    "autnum_templates",
    "entity_templates",
)
_TAG_RE = re.compile(r"^[A-Za-z0-9]+$")

#: What can happen to a registered name between two epochs (see :attr:`Scenario.changes`).
CHANGE_KINDS: tuple[str, ...] = (
    "drop",
    "reregister",
    "transfer",
    "renew",
    "ns_move",
    "dnssec_on",
    "dnssec_off",
    "hold",
    "redemption",
    "pending_delete",
)

#: Per-epoch, per-name probabilities used when a scenario has no ``"changes"`` mapping.
DEFAULT_CHANGE_RATES: Mapping[str, float] = MappingProxyType(
    {
        "transfer": 0.1,
        "renew": 0.3,
        "drop": 0.05,
        "reregister": 0.02,
        "ns_move": 0.1,
        "dnssec_on": 0.05,
        "dnssec_off": 0.05,
        "hold": 0.03,
        "redemption": 0.03,
        "pending_delete": 0.02,
    }
)


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
    # {"rate_per_s": r, "burst": b, "per_client": bool}; per_client: one bucket per client
    # address (see :attr:`rate_per_client`) instead of one for everyone.
    rate_limit: dict[str, float] | None = None
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
    def rate_per_client(self) -> bool:
        """True when ``rate_limit`` gives each client address its own token bucket."""
        return bool(self.rate_limit and self.rate_limit.get("per_client", False))

    @property
    def referrals(self) -> list[str]:
        if self.refer_to is None:
            return []
        return [self.refer_to] if isinstance(self.refer_to, str) else list(self.refer_to)


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
    _check_behaviour(spec, where)
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
        if rel is not None and not (isinstance(rel, str) and template_path(rel).is_file()):
            raise ValueError(f"{where}: template {rel!r} not found under {responses_dir()}")
    return spec


def _check_behaviour(spec: RegistrySpec, where: str) -> None:
    """Validate the choice, rate, limit and escalation fields of any role."""
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
        if not isinstance(spec.rate_limit.get("per_client", False), bool):
            raise ValueError(f"{where}: rate_limit per_client must be true or false")
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
            asn_range(value)
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
    _check_rir_templates(spec, spec.rir, where)
    if not spec.template:
        spec.template = (spec.ip_templates or spec.autnum_templates or [""])[0]


def _check_rir_templates(spec: RegistrySpec, rir: str, where: str) -> None:
    """Fill in and check a RIR's ip / autnum / entity templates (each of its class)."""
    for kind in ("ip", "autnum", "entity"):
        attr = f"{kind}_templates"
        paths = getattr(spec, attr)
        if paths is None:
            paths = default_templates(rir, kind)
            setattr(spec, attr, paths)
        if not isinstance(paths, list) or not all(isinstance(v, str) for v in paths):
            raise ValueError(f"{where}: {attr} must be a list of template paths")
        for rel in paths:
            path = template_path(rel)
            problem = "not found" if not path.is_file() else template_problem(path, kind)
            if problem is not None:
                raise ValueError(f"{where}: {attr} entry {rel!r} {problem}")
    if spec.ip_ranges and not spec.ip_templates:
        raise ValueError(f"{where}: ip_ranges given but no ip_templates")
    if spec.asn_ranges and not spec.autnum_templates:
        raise ValueError(f"{where}: asn_ranges given but no autnum_templates")


def _check_rir_overlaps(specs: list[RegistrySpec]) -> None:
    """RIRs of one scenario must not share addresses, AS numbers or object tags."""
    rirs = [s for s in specs if s.role == "rir"]
    nets = [(ipaddress.ip_network(t), s.name) for s in rirs for t in s.ip_ranges]
    for i, (a, an) in enumerate(nets):
        for b, bn in nets[i + 1 :]:
            if a.version == b.version and a.overlaps(b):
                raise ValueError(f"scenario: ip range {a} of {an} overlaps {b} of {bn}")
    spans = sorted((*asn_range(v), s.name) for s in rirs for v in s.asn_ranges)
    for (_, hi, an), (lo, _, bn) in itertools.pairwise(spans):
        if lo <= hi:
            raise ValueError(f"scenario: AS ranges of {an} and {bn} overlap (at AS{lo})")
    owner: dict[str, str] = {}
    for s in rirs:
        for tag in s.entity_tags or []:
            if tag in owner and owner[tag] != s.name:
                raise ValueError(f"scenario: entity tag {tag!r} used by {owner[tag]} and {s.name}")
            owner[tag] = s.name


def _check_across(specs: list[RegistrySpec]) -> None:
    """Names and TLDs are unique, RIRs do not overlap, referrals go to registrars."""
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


def _check_changes(raw: Any) -> dict[str, float]:
    """Validate a scenario's ``changes`` mapping (kind -> per-epoch probability)."""
    if not isinstance(raw, Mapping):
        raise ValueError(
            f"scenario: changes must be an object mapping a change kind to a probability, "
            f"got {type(raw).__name__}"
        )
    unknown = sorted(str(k) for k in raw if k not in CHANGE_KINDS)
    if unknown:
        raise ValueError(
            f"scenario: changes: unknown kind(s) {unknown}; known: {list(CHANGE_KINDS)}"
        )
    for kind, rate in raw.items():
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
            raise ValueError(
                f"scenario: changes[{kind!r}] must be a number in [0, 1], got {rate!r}"
            )
    return {kind: float(raw[kind]) for kind in CHANGE_KINDS if kind in raw}


@dataclass
class Scenario:
    """A set of virtual registries plus the seed of every pseudo-random decision.

    ``changes`` maps change kinds (:data:`CHANGE_KINDS`) to the probability that a name
    goes through that change in each epoch (kinds left out: 0). None (no ``"changes"`` in
    the JSON) means :data:`DEFAULT_CHANGE_RATES`. Epoch 0 never changes anything.
    """

    registries: list[RegistrySpec]
    seed: int = 0
    changes: dict[str, float] | None = None

    def __post_init__(self) -> None:
        if self.changes is not None:
            self.changes = _check_changes(self.changes)

    @property
    def change_rates(self) -> dict[str, float]:
        """The probability of every change kind per name and epoch (0 for kinds left out)."""
        given = DEFAULT_CHANGE_RATES if self.changes is None else self.changes
        return {kind: float(given.get(kind, 0.0)) for kind in CHANGE_KINDS}

    @classmethod
    def load(cls, source: Scenario | str | Path | Mapping[str, Any]) -> Scenario:
        """Build a scenario from a JSON file path or an equivalent mapping.

        Parameters
        ----------
        source
            Path to a scenario JSON file, or a mapping ``{"seed": int, "registries": [...]}``
            (optionally ``"changes": {kind: probability}``, see :data:`CHANGE_KINDS`).

        Raises
        ------
        ValueError
            On unreadable JSON, unknown or ill-typed fields, duplicate names or TLDs,
            referrals to unknown registrars, templates that do not exist, or a ``changes``
            mapping with unknown kinds or probabilities outside [0, 1].
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
        extra = sorted(set(raw) - {"registries", "seed", "description", "changes"})
        if extra:
            raise ValueError(f"scenario: unknown field(s) {extra}")
        regs = raw.get("registries")
        if not isinstance(regs, list) or not regs:
            raise ValueError("scenario: 'registries' must be a non-empty list")
        seed = raw.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ValueError("scenario: 'seed' must be an integer")
        changes = raw.get("changes")
        if changes is not None:
            changes = _check_changes(changes)
        specs = [_spec_from_mapping(r, i) for i, r in enumerate(regs)]
        _check_across(specs)
        return cls(registries=specs, seed=seed, changes=changes)

    @classmethod
    def default(cls) -> Scenario:
        """The demo scenario, ``datasets/scenarios/default.json``."""
        return cls.load(datasets_dir() / "scenarios" / "default.json")


#: What a :class:`Scenario` can be built from (None: the default scenario).
ScenarioSource: TypeAlias = Scenario | str | Path | Mapping[str, Any] | None
