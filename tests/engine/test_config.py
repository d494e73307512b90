"""The engine's settings objects: frozen, keyword-only, validated."""

from __future__ import annotations

import dataclasses

import pytest

from rdaplab.engine.config import Limits, Retry, Timeouts


@pytest.mark.parametrize("cls", [Limits, Retry, Timeouts])
def test_settings_are_frozen_and_keyword_only(cls: type) -> None:
    settings = cls()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.__setattr__(dataclasses.fields(cls)[0].name, 1)
    with pytest.raises(TypeError):
        cls(1)


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="per_host_burst"):
        Limits(per_host_burst=0)
    with pytest.raises(ValueError, match="per_host_rate_per_s"):
        Limits(per_host_rate_per_s=0)
