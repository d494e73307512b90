"""Epochs: the registries as they are after ``n`` rounds of changes (change-over-time tests).

Epoch 0 is the name's :func:`~.domains.plan_name` values. Each later epoch ``e`` spans
:data:`EPOCH_SPAN` of simulated time after :data:`~.domains.TODAY` and applies, per name,
the changes drawn for it: kind ``k`` happens when ``unit(seed, "change", k, e, name)`` is
below the scenario's rate for ``k``. A name's state at epoch ``n`` is epoch 0 with the
changes of epochs 1..n applied in order, so they accumulate.

Rules within one epoch (documented in ``docs/simulator.md``):

- a name that never existed (absent at epoch 0) never appears;
- a dropped name can only be re-registered (``reregister``): a fresh registration, with a
  new registration date, handle, registrar and nameservers;
- an existing name is first drawn for ``drop``; a dropped name gets no other change that
  epoch, except ``reregister`` (drop and re-registration in one epoch);
- otherwise the other kinds are drawn independently and applied in the order of
  :data:`ORDER`, each only when it changes something, judged on the state at the start
  of the epoch: ``dnssec_on`` only for an unsigned name, ``dnssec_off`` only for a
  signed one, a status only when the name does not have it yet. Every applied change
  moves "last changed" to its (drawn) moment within the epoch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime, timedelta

from rdaplab.simulator.domains import (
    NS_PROVIDERS,
    REGISTRARS,
    TODAY,
    Plan,
    add_years,
    nameservers_at,
    pick_registrar,
    plan_dnssec,
    registrar_of,
    served_status,
)
from rdaplab.simulator.hashing import stable_hash, unit
from rdaplab.simulator.registry import Registry
from rdaplab.simulator.scenario import CHANGE_KINDS

#: Simulated time between two epochs (epoch ``e`` covers ``TODAY + (e-1..e) * EPOCH_SPAN``).
EPOCH_SPAN = timedelta(days=30)

#: The order in which the changes of an existing, not dropped name apply within an epoch:
#: the scenario's kinds, less the two that drop and re-register it.
ORDER: tuple[str, ...] = tuple(k for k in CHANGE_KINDS if k not in ("drop", "reregister"))

#: The RDAP status value (RFC 8056 mapping of the EPP status) each status change adds.
STATUS_OF: Mapping[str, str] = {
    "hold": "client hold",
    "redemption": "redemption period",
    "pending_delete": "pending delete",
}

#: Change history: (epoch, kind) pairs in the order they happened.
History = list[tuple[int, str]]


def epoch_start(epoch: int) -> datetime:
    """The simulated moment epoch ``epoch`` ends (and ``epoch + 1`` starts)."""
    return TODAY + epoch * EPOCH_SPAN


class Evolver:
    """Applies a scenario's change rates to epoch-0 plans of one simulator's registries."""

    def __init__(self, regs: Mapping[str, Registry], seed: int, rates: Mapping[str, float]):
        self.regs, self.seed, self.rates = regs, seed, dict(rates)

    def happens(self, kind: str, epoch: int, key: str) -> bool:
        rate = self.rates.get(kind, 0.0)
        return rate > 0.0 and unit(self.seed, "change", kind, epoch, key) < rate

    def when(self, kind: str, epoch: int, key: str, after: datetime | None = None) -> datetime:
        """The moment ``kind`` happens in ``epoch`` (whole seconds, after ``after`` if given)."""
        start, end = epoch_start(epoch - 1), epoch_start(epoch)
        if after is not None and after > start:
            start = after
        span = int((end - start).total_seconds()) - 1
        return start + timedelta(seconds=1 + int(unit(self.seed, "when", kind, epoch, key) * span))

    def evolve(self, reg: Registry, plan: Plan | None, epoch: int) -> tuple[Plan | None, History]:
        """``plan`` (epoch 0) after epochs 1..``epoch``, and the changes it went through."""
        history: History = []
        if plan is None or epoch <= 0 or not any(self.rates.values()):
            return plan, history
        key, unicode = plan.key, plan.unicode
        current: Plan | None = _copy(plan)
        for e in range(1, epoch + 1):
            dropped_at = None
            if current is not None:
                if not self.happens("drop", e, key):
                    self._apply(reg, current, e, history)
                    continue
                history.append((e, "drop"))
                dropped_at = self.when("drop", e, key)
                current = None
            if self.happens("reregister", e, key):
                history.append((e, "reregister"))
                current = self._reregister(reg, key, unicode, e, dropped_at)
        return current, history

    def _apply(self, reg: Registry, plan: Plan, e: int, history: History) -> None:
        key = plan.key
        registrar = self.regs[plan.referral] if plan.referral is not None else None
        signed = plan_dnssec(reg, registrar, plan)
        # The status the answers carry at the start of the epoch (registry's, then registrar's).
        base = reg.template.status or (registrar.template.status if registrar else None)
        status = served_status(base, plan.status_added) or []
        for kind in ORDER:
            if not self.happens(kind, e, key):
                continue
            if kind == "dnssec_on" and signed:
                continue
            if kind == "dnssec_off" and not signed:
                continue
            if kind in STATUS_OF and STATUS_OF[kind] in status:
                continue
            at = self.when(kind, e, key)
            if kind == "transfer":
                self._transfer(reg, plan, e)
                plan.transferred = at
            elif kind == "renew":
                plan.expires = add_years(plan.expires, 1)
            elif kind == "ns_move":
                current = plan.nameservers[0].split(".", 1)[1] if plan.nameservers else ""
                others = [p for p in NS_PROVIDERS if p != current]
                provider = others[stable_hash(self.seed, "ns-to", e, key) % len(others)]
                plan.nameservers = nameservers_at(provider, len(plan.nameservers) or 2)
            elif kind in ("dnssec_on", "dnssec_off"):
                plan.dnssec = kind == "dnssec_on"
                plan.ds_seed = stable_hash(self.seed, "ds", e, key)
            else:
                plan.status_added.append(STATUS_OF[kind])
            plan.changed = max(plan.changed, at)
            history.append((e, kind))

    def _transfer(self, reg: Registry, plan: Plan, e: int) -> None:
        """A new sponsoring registrar: another referral target when there are several."""
        draw = stable_hash(self.seed, "transfer-to", e, plan.key)
        refs = reg.spec.referrals
        new: tuple[str, str] | None = None
        if len(refs) >= 2:
            targets = [r for r in refs if r != plan.referral]
            plan.referral = targets[draw % len(targets)]
            picked = registrar_of(self.regs, plan.referral, draw >> 16)
            new = picked if picked != plan.registrar else None
        if new is None:
            others = [r for r in REGISTRARS if r != plan.registrar]
            new = others[(draw >> 32) % len(others)]
        plan.registrar = new

    def _reregister(
        self, reg: Registry, key: str, unicode: str, e: int, dropped_at: datetime | None
    ) -> Plan:
        """A fresh registration of a dropped name during epoch ``e``."""
        salt = ("rereg", self.seed, e)
        registered = self.when("reregister", e, key, after=dropped_at)
        registrar, referral = pick_registrar(reg, self.regs, key, *salt)
        provider = NS_PROVIDERS[stable_hash("ns", key, *salt) % len(NS_PROVIDERS)]
        return Plan(
            key=key,
            unicode=unicode,
            handle_seed=stable_hash("handle", key, *salt),
            registered=registered,
            expires=add_years(registered, 1),
            changed=registered,
            nameservers=nameservers_at(provider, 2 + stable_hash("nscount", key, *salt) % 3),
            registrar=registrar,
            referral=referral,
        )


def _copy(plan: Plan) -> Plan:
    return dataclasses.replace(
        plan, nameservers=list(plan.nameservers), status_added=list(plan.status_added)
    )
