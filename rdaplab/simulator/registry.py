"""The runtime state of one virtual registry: its templates, counters and limit state."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from rdaplab._data import responses_dir
from rdaplab.simulator.scenario import RegistrySpec
from rdaplab.simulator.syntax import Net, asn_range
from rdaplab.simulator.templates import DomainTemplate, ObjTemplate, error_body, template_path

#: At most this many client addresses get their own bucket, and their own row in
#: ``RegistryStats.by_client``, per registry (``rate_limit.per_client``): memory stays
#: bounded however many addresses a test uses.
MAX_CLIENTS = 65536
#: The ``by_client`` row pooling every address past :data:`MAX_CLIENTS`.
OTHER_CLIENTS = "other"


def client_key(remote: str | None) -> str:
    """The address a per-client limit and ``by_client`` key on (aiohttp ``request.remote``)."""
    return remote or "unknown"


@dataclass
class ClientStats:
    """Counters of one client address at a ``per_client`` registry."""

    requests: int = 0
    throttled: int = 0  # as RegistryStats.throttled: rate limit and concurrency refusals
    by_status: dict[int, int] = field(default_factory=dict)


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
    # Registries with ``rate_limit.per_client`` only (else empty): the counters of each
    # client address, keyed as :func:`client_key`; past MAX_CLIENTS addresses, the rest
    # are pooled under OTHER_CLIENTS. Each column sums to the registry's own counter.
    by_client: dict[str, ClientStats] = field(default_factory=dict)

    def client(self, remote: str | None) -> ClientStats:
        """The ``by_client`` row of ``remote`` (created on first use)."""
        key = client_key(remote)
        row = self.by_client.get(key)
        if row is None:
            if len(self.by_client) >= MAX_CLIENTS:
                key = OTHER_CLIENTS
            row = self.by_client.setdefault(key, ClientStats())
        return row


class Bucket:
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


class ClientBuckets:
    """One :class:`Bucket` per client address, all with the same rate and burst.

    A client's bucket is created (full) on its first request. Memory stays bounded: a
    bucket idle for ``burst / rate`` seconds is full again, the same as a new one, so it is
    forgotten without changing any answer; and past ``cap`` buckets the least recently
    used one is forgotten (that client, if it comes back, starts again with a full bucket).
    """

    def __init__(self, rate: float, burst: float, cap: int = MAX_CLIENTS) -> None:
        self.rate, self.burst, self.cap = rate, burst, cap
        self.refill_s = burst / rate  # an empty bucket is full again after this long
        self.buckets: OrderedDict[str, Bucket] = OrderedDict()  # least recently used first

    def take(self, remote: str | None, now: float) -> float:
        """Take a token from ``remote``'s bucket; as :meth:`Bucket.take`."""
        buckets = self.buckets
        while buckets:
            oldest = next(iter(buckets.values()))
            if oldest.last is not None and now - oldest.last < self.refill_s:
                break
            buckets.popitem(last=False)
        key = client_key(remote)
        bucket = buckets.get(key)
        if bucket is None:
            if len(buckets) >= self.cap:
                buckets.popitem(last=False)
            bucket = buckets[key] = Bucket(self.rate, self.burst)
        else:
            buckets.move_to_end(key)
        return bucket.take(now)


class DayCounter:
    """A count that starts again at zero each simulated day (the daily quotas)."""

    def __init__(self) -> None:
        self.day = 0  # index of the simulated day the count belongs to
        self.used = 0

    def on(self, day: int) -> int:
        """The count on simulated day ``day`` (zero when that day has just begun)."""
        if day != self.day:
            self.day, self.used = day, 0
        return self.used


class Registry:
    """Runtime state of one virtual registry."""

    def __init__(self, spec: RegistrySpec) -> None:
        self.spec = spec
        self.template = DomainTemplate(template_path(spec.template))
        self.nf_template = (
            DomainTemplate(template_path(spec.not_found_template))
            if spec.not_found_template
            else None
        )
        self.port = 0
        self.sock: socket.socket | None = None
        self.stats = RegistryStats()
        self.attempts: dict[str, int] = {}
        # The rate limit: one bucket for everyone, or one per client address.
        self.bucket: Bucket | None = None
        self.client_buckets: ClientBuckets | None = None
        if spec.rate_limit:
            rate = float(spec.rate_limit["rate_per_s"])
            burst = float(spec.rate_limit.get("burst", max(1.0, rate)))
            if spec.rate_per_client:
                self.client_buckets = ClientBuckets(rate, burst)
            else:
                self.bucket = Bucket(rate, burst)
        self.sem: asyncio.Semaphore | None = None
        # Limit state (loop clock). Kept across reset_stats(): the server remembers abuse.
        self.queries = DayCounter()  # against daily_quota
        self.persons = DayCounter()  # person objects served, against person_quota
        self.violations: deque[float] = deque()  # times of recent throttled answers
        self.blocked_until: float | None = None
        # Role "rir": number resources, tags and the templates of each object class.
        self.networks: list[Net] = [ipaddress.ip_network(t) for t in spec.ip_ranges]
        self.asns = [asn_range(v) for v in spec.asn_ranges]
        self.tags = set(spec.entity_tags or [])
        self.objects: dict[str, list[ObjTemplate]] = {
            kind: [ObjTemplate(rel, kind) for rel in getattr(spec, f"{kind}_templates") or []]
            for kind in ("ip", "autnum", "entity")
        }
        # RIPE's real 501 for nameserver queries; other registries get a minimal RDAP error.
        self.ns_501 = (
            (responses_dir() / "ripe" / "error-501-nameserver.json").read_bytes()
            if spec.rir == "ripe"
            else error_body(501, "Not Implemented", "Nameserver queries are not supported.")
        )

    def take_token(self, now: float, remote: str | None) -> float:
        """Take a rate-limit token for a request from ``remote``: 0.0 when admitted (or
        no rate limit), else seconds until the bucket it draws on has one."""
        if self.client_buckets is not None:
            return self.client_buckets.take(remote, now)
        if self.bucket is not None:
            return self.bucket.take(now)
        return 0.0


def stats_to_json(stats: Mapping[str, RegistryStats]) -> dict[str, dict[str, Any]]:
    """Registry stats as JSON-ready dicts (``by_status`` keys become strings)."""
    out = {}
    for name, st in stats.items():
        row = asdict(st)
        row["by_status"] = {str(k): v for k, v in sorted(st.by_status.items())}
        row["by_client"] = {
            addr: {**asdict(c), "by_status": {str(k): v for k, v in sorted(c.by_status.items())}}
            for addr, c in sorted(st.by_client.items())
        }
        out[name] = row
    return out
