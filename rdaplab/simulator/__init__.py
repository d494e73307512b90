"""A loopback RDAP registry simulator: many virtual registries serving templated real answers.

Each virtual registry listens on its own 127.0.0.1 port (the client keys its per-host limiter
on ``host:port``) under its own path prefix, and answers ``GET {base}domain/{NAME}`` with a
real response from ``datasets/responses`` whose name-dependent fields are rewritten
deterministically. Registries of role ``"rir"`` answer ``ip``, ``autnum`` and ``entity``
queries the same way from their RIR's real answers, and domain registries answer
``nameserver`` queries for hosts under their TLDs (see ``docs/simulator.md``). Faults (rate
limits, 5xx, truncated bodies, slow bodies, dropped connections, dead hosts) come from a
:class:`Scenario`. Every per-request decision is a stable hash of ``(seed, registry, path,
attempt number)``, so a run does not depend on the order in which concurrent requests arrive.

The modules, each importing only those listed before it (and ``rdaplab._data``):
``hashing`` and ``syntax`` (stable draws; names, addresses, handles), ``templates``
(recorded answers), ``scenario`` (what to serve, validated), ``registry`` (runtime state),
``domains`` and ``objects`` (the answers), ``epochs`` (names changing over time), ``limits`` and ``faults`` (the refusals and
injected failures), ``bootstrap`` (IANA files), ``server`` (:class:`Simulator`) and
``thread`` (:class:`SimulatorThread`, :func:`run_forever`).
"""

from __future__ import annotations

from rdaplab.simulator.domains import NS_PROVIDERS, REGISTRARS, ExpectedDomain
from rdaplab.simulator.epochs import EPOCH_SPAN
from rdaplab.simulator.objects import ExpectedObject
from rdaplab.simulator.registry import ClientStats, RegistryStats, stats_to_json
from rdaplab.simulator.scenario import (
    CHANGE_KINDS,
    DEFAULT_CHANGE_RATES,
    RIRS,
    RegistrySpec,
    Scenario,
)
from rdaplab.simulator.server import Simulator
from rdaplab.simulator.thread import SimulatorThread, run_forever

__all__ = [
    "CHANGE_KINDS",
    "DEFAULT_CHANGE_RATES",
    "EPOCH_SPAN",
    "NS_PROVIDERS",
    "REGISTRARS",
    "RIRS",
    "ClientStats",
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
