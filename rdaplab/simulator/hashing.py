"""Stable pseudo-random draws: every simulated value and fault is a hash of its inputs.

Python's ``hash()`` is salted per process, so runs would not replay; blake2b is not.
"""

from __future__ import annotations

import hashlib


def stable_hash(*parts: object) -> int:
    """Stable 64-bit hash of ``parts`` (joined by a separator no part contains)."""
    data = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def unit(*parts: object) -> float:
    """A stable draw in [0, 1) from ``parts``."""
    return stable_hash(*parts) / 2.0**64
