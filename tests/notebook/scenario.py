"""Simulator scenarios of the notebook tests: one registry entry per call, no repeated dicts."""

from __future__ import annotations

from typing import Any


def registry(
    name: str,
    template: str,
    tlds: tuple[str, ...] = (),
    *,
    latency: tuple[float, float] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """A scenario's registry entry; ``latency`` is ``(mean, jitter)`` in ms, ``options``
    the other keys (``refer_to``, ``rate_limit``, ``role``, ...)."""
    entry: dict[str, Any] = {"name": name, "tlds": list(tlds), "template": template, **options}
    if latency is not None:
        entry["latency_ms"] = {"mean": latency[0], "jitter": latency[1]}
    return entry


VERISIGN = "verisign/google.com-2024.json"
MARKMONITOR = "markmonitor/GOOGLE.COM-2024.json"
NOMINET = "nominet/bbc.co.uk.json"


def verisign(tlds: tuple[str, ...], latency: tuple[float, float]) -> dict[str, Any]:
    """A thin registry referring to markmonitor, with empty not-found answers."""
    return registry(
        "verisign", VERISIGN, tlds, refer_to="markmonitor", not_found="empty", latency=latency
    )


def nominet(rate_per_s: float, burst: int, latency: tuple[float, float]) -> dict[str, Any]:
    """A throttling registry: 429 with a Retry-After in seconds over ``rate_per_s``."""
    return registry(
        "nominet",
        NOMINET,
        ("uk",),
        rate_limit={"rate_per_s": rate_per_s, "burst": burst},
        retry_after="seconds",
        latency=latency,
    )
