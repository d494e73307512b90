"""The aiohttp server: :class:`Simulator` binds one loopback port per virtual registry.

A request is admitted by :mod:`.limits`, meets its drawn fault (:mod:`.faults`), then is
answered from :mod:`.domains` (at the current epoch, :mod:`.epochs`) or :mod:`.objects`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web

from rdaplab.simulator import bootstrap, faults, limits
from rdaplab.simulator.domains import (
    ExpectedDomain,
    Plan,
    drawn_absent,
    expected_domain,
    plan_name,
    registry_handle,
    render_domain,
    style_name,
)
from rdaplab.simulator.epochs import Evolver, History
from rdaplab.simulator.hashing import stable_hash
from rdaplab.simulator.objects import (
    KIND_ALIASES,
    OBJECT_KINDS,
    ExpectedObject,
    ObjectAnswers,
    count_persons,
)
from rdaplab.simulator.registry import Registry, RegistryStats, stats_to_json
from rdaplab.simulator.scenario import Scenario, ScenarioSource
from rdaplab.simulator.syntax import normalize_name
from rdaplab.simulator.templates import RDAP_JSON, error_body


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
    epoch
        The epoch to serve (see :attr:`epoch`); 0 serves every name as drawn, unchanged.
    """

    def __init__(
        self,
        scenario: ScenarioSource = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        epoch: int = 0,
    ) -> None:
        if scenario is None:
            scenario = Scenario.default()
        elif not isinstance(scenario, Scenario):
            scenario = Scenario.load(scenario)
        self.scenario = scenario
        self.host, self.port = host, port
        self._regs = {s.name: Registry(s) for s in scenario.registries}
        self._by_tld = {
            tld: r for r in self._regs.values() if r.spec.role == "registry" for tld in r.spec.tlds
        }
        self._by_port: dict[int, Registry] = {}
        self._runner: web.AppRunner | None = None
        self._t0 = 0.0  # loop time at start(): simulated quota days count from here
        self._objects = ObjectAnswers(scenario.seed, self._regs, self._by_tld, self.base_url)
        self._evolver = Evolver(self._regs, scenario.seed, scenario.change_rates)
        self._epoch = 0
        self.epoch = epoch

    # ---- epochs

    @property
    def epoch(self) -> int:
        """The epoch served: 0 is the names as drawn; each later one applies a round of
        the scenario's ``changes`` (transfers, renewals, drops...) on top of the one before.

        Settable while the server runs; requests arriving after the assignment are
        answered at the new epoch (:meth:`expected` and :meth:`changes` follow it too).

        Raises
        ------
        ValueError
            On assignment of anything but a non-negative int.
        """
        return self._epoch

    @epoch.setter
    def epoch(self, value: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"epoch must be a non-negative integer, not {value!r}")
        self._epoch = value

    def set_epoch(self, epoch: int) -> int:
        """Serve ``epoch`` from now on (same as assigning :attr:`epoch`); returns it."""
        self.epoch = epoch
        return self._epoch

    def changes(self, name: str) -> list[tuple[int, str]]:
        """The changes ``name`` went through up to the current epoch, in order.

        Parameters
        ----------
        name
            Any spelling (normalized as :meth:`expected` does).

        Returns
        -------
        list of (epoch, kind)
            Kinds from :data:`~rdaplab.simulator.scenario.CHANGE_KINDS`, e.g.
            ``[(1, "transfer"), (2, "renew")]``; empty for names that never existed, are
            not valid or have no registry here. Needs no running server.
        """
        norm = normalize_name(name)
        return self._history(*norm)[1] if norm else []

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
        app.router.add_route("*", "/_simulator/epoch", self._epoch_handler)
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
        latency), plus whole quota days when ``R_h`` exceeds ``daily_quota``. With
        ``rate_limit.per_client`` the rate term is per client address (``per_client`` in
        the host's row): the bound then holds for a client sending from one address, and
        one using ``k`` addresses can beat the rate term up to ``k`` times. Names with
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
            "burst", "per_client", "concurrency_limit", "mean_latency_s", "rate_bound_s",
            "concurrency_bound_s", "quota_bound_s", "role", "host"}}}``, hosts sorted by
            ``bound_s`` descending; ``host`` is ``"ip:port"`` once started, else None.
        """
        counts: dict[str, int] = {}
        seen: set[str] = set()
        live = 0
        for name in names:
            norm = normalize_name(name) if isinstance(name, str) else None
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
            row = limits.host_bound(reg.spec, requests)
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
        return bootstrap.write_bootstrap(directory, self._regs.values(), self.base_url)

    def _history(self, key: str, unicode: str) -> tuple[tuple[Registry, Plan] | None, History]:
        """The registry and values of ``key`` at the current epoch, and its changes."""
        reg = self._by_tld.get(key.rsplit(".", 1)[-1])
        if reg is None:
            return None, []
        plan = plan_name(reg, self._regs, self.scenario.seed, key, unicode)
        plan, history = self._evolver.evolve(reg, plan, self._epoch)
        return (None if plan is None else (reg, plan)), history

    def _plan(self, key: str, unicode: str) -> tuple[Registry, Plan] | None:
        """The registry serving ``key`` and its values, or None when the name does not exist
        (at the current epoch: dropped names do not)."""
        return self._history(key, unicode)[0]

    def _related_url(self, reg: Registry, plan: Plan) -> str | None:
        if plan.referral is None:
            return None
        name = style_name(plan.key, reg.template.upper, False)
        return f"{self.base_url(plan.referral)}domain/{name}"

    def expected(self, name: str) -> ExpectedDomain | None:
        """The values served for ``name`` at the current epoch; None if it does not exist
        (never did, or is dropped at this epoch) or nothing serves it.

        Parameters
        ----------
        name
            Any spelling: case, trailing dot and U-labels are normalized.
        """
        self._started()
        norm = normalize_name(name)
        found = self._plan(*norm) if norm else None
        if found is None or found[0].spec.dead:
            return None
        reg, plan = found
        registrar = self._regs[plan.referral] if plan.referral is not None else None
        return expected_domain(reg, plan, registrar, self._related_url(reg, plan))

    # ---- ip / autnum / entity / nameserver (answered by .objects)

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
        kind = KIND_ALIASES.get(kind.lower(), kind.lower())
        if kind not in OBJECT_KINDS:
            raise ValueError(f"kind must be one of {OBJECT_KINDS}, not {kind!r}")
        text = str(query).strip()
        if kind == "autnum" and text[:2].upper() == "AS":
            text = text[2:]
        if registry is not None:
            if registry not in self._regs:
                raise ValueError(f"no registry named {registry!r} in this scenario")
            reg: Registry | None = self._regs[registry]
        else:
            reg = self._objects.route(kind, text)
        if reg is None:
            return ExpectedObject(kind=kind, query=text, status=None, registry=None)
        exp = self._objects.answer(reg, kind, text)[3]
        if reg.spec.dead:
            exp.status = None
        return exp

    # ---- request handling

    async def _stats_handler(self, request: web.Request) -> web.Response:
        """``GET /_simulator/stats`` on any port: every registry's counters as JSON.

        For a simulator in another process (``rdaplab simulate``), whose stats() a client
        cannot call. Registries with ``rate_limit.per_client`` also report ``by_client``:
        ``{address: {"requests", "throttled", "by_status"}}``.
        """
        return web.json_response(stats_to_json(self.stats()))

    async def _epoch_handler(self, request: web.Request) -> web.Response:
        """``GET /_simulator/epoch`` on any port: ``{"epoch": n}``; ``POST`` (or ``PUT``)
        ``{"epoch": n}`` sets it, for a simulator in another process."""
        if request.method in ("POST", "PUT"):
            try:
                raw = await request.json()
                self.epoch = raw["epoch"] if isinstance(raw, dict) else raw
            except (ValueError, KeyError) as exc:
                message = f'expected {{"epoch": n}} with n >= 0 ({exc})'
                return web.Response(
                    status=400, body=error_body(400, "Bad Request", message), content_type=RDAP_JSON
                )
        elif request.method not in ("GET", "HEAD"):
            return web.Response(status=405, headers={"Allow": "GET, POST, PUT"})
        return web.json_response({"epoch": self._epoch})

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        reg = self._by_port.get(sockname[1] if sockname else -1)
        if reg is None or request.match_info["registry"] != reg.spec.name:
            return web.Response(
                status=404,
                body=error_body(404, "Not Found", "no such service"),
                content_type=RDAP_JSON,
            )
        st = reg.stats
        st.requests += 1
        client = st.client(request.remote) if reg.client_buckets is not None else None
        if client is not None:
            client.requests += 1
        kind = request.match_info["tail"].partition("/")[0].lower()
        kind = kind if kind in ("domain", "help", *OBJECT_KINDS) else "other"
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
                if client is not None:
                    client.by_status[resp.status] = client.by_status.get(resp.status, 0) + 1
        # A dropped connection's transport is closed: aiohttp discards this placeholder.
        return resp if resp is not None else web.Response(status=500)

    async def _serve(self, reg: Registry, request: web.Request) -> web.StreamResponse | None:
        spec, tail = reg.spec, request.match_info["tail"]
        now = asyncio.get_running_loop().time()
        refusal = limits.admit(reg, now, self._t0, request.remote)
        if refusal is not None:
            return refusal
        queue = spec.concurrency_limit is not None and spec.concurrency_mode == "queue"
        sem = reg.sem if queue else None
        async with sem if sem is not None else contextlib.nullcontext():
            attempt = reg.attempts[tail.lower()] = reg.attempts.get(tail.lower(), 0) + 1
            draw = (self.scenario.seed, spec.name, tail.lower(), attempt)
            if spec.latency_ms:
                await asyncio.sleep(faults.latency_s(spec, draw))
            fault = faults.pick_fault(spec, draw)
            if fault == "drop":
                if request.transport is not None:
                    request.transport.close()  # no status line at all
                return None
            if fault == "error":
                return faults.server_error(reg, stable_hash(*draw, "code"))
            status, body, headers = self._answer(reg, tail)
            if status == 200 and fault == "malformed":
                body = body[: len(body) // 2]  # truncated JSON, as from a cut connection
            elif status == 200 and fault == "slow":
                return await faults.slow_body(request, body, spec.slow_body_ms)
            return web.Response(status=status, body=body, headers=headers)

    def _not_found(self, reg: Registry) -> tuple[int, bytes, dict[str, str]]:
        if reg.spec.not_found == "empty":
            return 404, b"", {}
        if reg.nf_template is not None:
            body = reg.nf_template.raw
        else:
            body = error_body(404, "Not Found", "The requested object was not found.")
        return 404, body, {"Content-Type": RDAP_JSON}

    def _answer(self, reg: Registry, tail: str) -> tuple[int, bytes, dict[str, str]]:
        """Status, body and headers for a request that got past every fault."""
        ctype = {"Content-Type": RDAP_JSON}
        kind, _, arg = tail.partition("/")
        if kind == "help" and not arg:
            notices = reg.template.doc.get("notices", [])
            body = {"rdapConformance": ["rdap_level_0"], "notices": notices}
            return 200, json.dumps(body).encode(), ctype
        if kind in OBJECT_KINDS and arg:
            status, doc, message = self._objects.answer(reg, kind, arg)[:3]
            if doc is not None:
                return 200, self._encode_served(reg, doc), ctype
            if status == 404:
                return self._not_found(reg)
            if status == 501 and kind == "nameserver":
                return 501, reg.ns_501, ctype
            title = {400: "Bad Request", 501: "Not Implemented"}.get(status, "Error")
            return status, error_body(status, title, message), ctype
        if kind != "domain" or not arg or "/" in arg:
            return 400, error_body(400, "Bad Request", "Unsupported query."), ctype
        norm = normalize_name(arg)
        if norm is None:
            return 400, error_body(400, "Bad Request", "Invalid domain name."), ctype
        if reg.spec.role == "rir":
            return self._not_found(reg)  # forward domains are not in a RIR's database
        return self._domain(reg, *norm)

    def _domain(self, reg: Registry, key: str, unicode: str) -> tuple[int, bytes, dict[str, str]]:
        """The answer of a registry or registrar to a valid domain name."""
        found = self._plan(key, unicode)
        if found is None:
            return self._not_found(reg)
        owner, plan = found
        handle = registry_handle(owner, plan)
        if reg.spec.role == "registry":
            if owner is not reg:
                return self._not_found(reg)
            related = self._related_url(reg, plan)
        else:
            # A registrar answers only for the names its registry refers to it.
            if plan.referral != reg.spec.name or drawn_absent(reg.spec, self.scenario.seed, key):
                return self._not_found(reg)
            related = None
        tpl = reg.template
        base = self.base_url(reg.spec.name)
        self_url = f"{base}domain/{style_name(plan.key, tpl.upper, tpl.trailing_dot)}"
        doc = render_domain(
            tpl, plan, self_url=self_url, related_url=related, handle=handle, ns_base=base
        )
        return 200, self._encode_served(reg, doc), {"Content-Type": RDAP_JSON}

    def _encode_served(self, reg: Registry, doc: dict[str, Any]) -> bytes:
        """Encode a 200 answer, counting the person objects it carries."""
        persons = count_persons(doc)
        reg.stats.persons_served += persons
        reg.persons.used += persons
        return msgspec.json.encode(doc)
