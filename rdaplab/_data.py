"""Where the bundled datasets live (repository checkout or installed wheel)."""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def datasets_dir() -> Path:
    """The bundled ``datasets/`` folder: IANA bootstrap snapshot, real responses, sample."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "datasets", here.parent / "datasets"):
        if (candidate / "bootstrap" / "dns.json").is_file():
            return candidate
    raise FileNotFoundError(
        "rdaplab's bundled datasets are missing; reinstall the package"
    )  # pragma: no cover - packaging error


def bootstrap_dir() -> Path:
    return datasets_dir() / "bootstrap"


def responses_dir() -> Path:
    return datasets_dir() / "responses"
