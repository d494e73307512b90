"""Registry profiles and how Limits turns them into each host's starting point."""

from __future__ import annotations

import pytest

from rdaplab.engine.config import Limits
from rdaplab.engine.profiles import PROFILES, UNKNOWN, Profile, profile_for


def test_every_profile_cites_a_source_and_is_sane():
    for name, profile in PROFILES.items():
        assert name == name.lower() and ":" not in name
        assert profile.source
        assert profile.rate_per_s is not None and profile.rate_per_s > 0
        assert profile.concurrency >= 1 and profile.burst >= 1
        if profile.max_rate_per_s is not None:
            assert profile.rate_per_s <= profile.max_rate_per_s
        if profile.max_concurrency is not None:
            assert profile.concurrency <= profile.max_concurrency


@pytest.mark.parametrize(
    "host", ["rdap.lacnic.net", "rdap.lacnic.net:443", "RDAP.LACNIC.NET:8443", "Rdap.Lacnic.Net"]
)
def test_lookup_by_host_and_host_port(host):
    assert profile_for(host) is PROFILES["rdap.lacnic.net"]


def test_unknown_hosts_get_the_default():
    assert profile_for("rdap.example.net:443") is UNKNOWN
    mine = Profile(rate_per_s=7.0)
    assert profile_for("rdap.example.net:443", default=mine) is mine
    # A custom table replaces the built-in one.
    assert profile_for("rdap.lacnic.net:443", {}) is UNKNOWN


def test_an_exact_host_port_entry_wins_over_the_host_name():
    port_only = Profile(rate_per_s=1.0, source="port")
    any_port = Profile(rate_per_s=5.0, source="any")
    table = {"127.0.0.1:8080": port_only, "127.0.0.1": any_port}
    assert profile_for("127.0.0.1:8080", table) is port_only
    assert profile_for("127.0.0.1:9090", table) is any_port
    assert profile_for("[::1]:8080", {"[::1]": any_port}) is any_port


def test_merged_applies_overrides_and_a_typed_rate_pins():
    base = Profile(rate_per_s=2.0, concurrency=2, source="base")
    pinned = base.merged({"rate_per_s": 5})
    assert (pinned.rate_per_s, pinned.adaptive, pinned.concurrency) == (5, False, 2)
    # With a ceiling, or adaptive stated, the rate is a starting point, not a decision.
    assert base.merged({"rate_per_s": 5, "max_rate_per_s": 8}).adaptive is True
    assert base.merged({"rate_per_s": 5, "adaptive": True}).adaptive is True
    assert base.merged({"concurrency": 4}).adaptive is True
    assert base.merged({}) == base
    assert base.rate_per_s == 2.0  # frozen: merged returns a copy


def test_unknown_override_keys_raise_value_error():
    with pytest.raises(ValueError, match="rate_per_second"):
        Profile().merged({"rate_per_second": 1})
    limits = Limits(hosts={"rdap.example.net": {"concurency": 4}})
    with pytest.raises(ValueError, match="concurency"):
        limits.profile_for("rdap.example.net:443")


def test_limits_hosts_override_pins_the_rate_for_that_host_only():
    limits = Limits(hosts={"rdap.example.net": {"rate_per_s": 0.5, "concurrency": 1}})
    profile = limits.profile_for("rdap.example.net:443")
    assert (profile.rate_per_s, profile.concurrency, profile.adaptive) == (0.5, 1, False)
    limiter = limits.limiter_for("rdap.example.net:443")
    assert (limiter.rate_per_s, limiter.max_concurrency) == (0.5, 1)
    other = limits.profile_for("rdap.other.net:443")
    assert other.adaptive is True and other.rate_per_s == limits.per_host_rate_per_s


def test_limits_hosts_override_by_host_port_and_over_a_known_profile():
    limits = Limits(
        hosts={
            "127.0.0.1:8080": {"rate_per_s": 3},
            "rdap.lacnic.net": {"daily_budget": 500},
        }
    )
    assert limits.profile_for("127.0.0.1:8080").rate_per_s == 3
    assert limits.profile_for("127.0.0.1:9090").rate_per_s == limits.per_host_rate_per_s
    lacnic = limits.profile_for("rdap.lacnic.net:443")
    assert lacnic.daily_budget == 500
    assert lacnic.max_rate_per_s == PROFILES["rdap.lacnic.net"].max_rate_per_s  # kept
    assert lacnic.source == PROFILES["rdap.lacnic.net"].source


def test_limits_hosts_keys_are_case_insensitive():
    limits = Limits(hosts={"RDAP.Example.NET": {"rate_per_s": 0.5}})
    assert limits.profile_for("rdap.example.net:443").rate_per_s == 0.5


def test_limits_defaults_shape_unknown_hosts():
    limits = Limits(per_host_rate_per_s=3.0, per_host_concurrency=5, per_host_burst=4)
    profile = limits.profile_for("rdap.example.net:443")
    assert (profile.rate_per_s, profile.concurrency, profile.burst) == (3.0, 5, 4)
    assert profile.adaptive is True


def test_limits_not_adaptive_pins_every_host_including_known_ones():
    limits = Limits(adaptive=False, per_host_rate_per_s=3.0, per_host_burst=2)
    for host in ("rdap.example.net:443", "rdap.lacnic.net:443", "rdap.arin.net:443"):
        assert limits.profile_for(host).adaptive is False
        ctl = limits.controller_for(host)
        assert ctl.phase == "pinned"
    unknown = limits.limiter_for("rdap.example.net:443")
    assert (unknown.rate_per_s, unknown.burst) == (3.0, 2)
    lacnic = limits.limiter_for("rdap.lacnic.net:443")
    assert lacnic.rate_per_s == pytest.approx(PROFILES["rdap.lacnic.net"].rate_per_s)


def test_limits_without_a_rate_leaves_unknown_hosts_unpaced():
    limits = Limits(per_host_rate_per_s=None, per_host_concurrency=8)
    profile = limits.profile_for("127.0.0.1:8080")
    assert profile.rate_per_s is None and profile.adaptive is False
    limiter = limits.limiter_for("127.0.0.1:8080")
    assert limiter.rate_per_s is None and limiter.max_concurrency == 8
    ctl = limits.controller_for("127.0.0.1:8080")
    assert ctl.phase == "pinned" and ctl.statistics().rate_per_s is None
    # A known registry keeps its published pace even then.
    assert limits.limiter_for("rdap.lacnic.net:443").rate_per_s is not None


def test_a_pinned_rate_above_the_adaptive_ceiling_is_kept():
    host = "rdap.example.net:443"
    assert (
        Limits(hosts={"rdap.example.net": {"rate_per_s": 200}}).limiter_for(host).rate_per_s == 200
    )
    assert Limits(adaptive=False, per_host_rate_per_s=500).limiter_for(host).rate_per_s == 500
