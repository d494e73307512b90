"""Privacy controls end to end: lookups redact by default, minimize, strip, retain, audit."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import rdaplab
from rdaplab import Cache, Limits
from rdaplab.frames import ENTITIES_SCHEMA
from rdaplab.rdap.pii import body_has_pii

FAST = Limits(per_host_rate_per_s=None, per_host_concurrency=8)
# AFNIC's answer carries a technical contact who is a person (JP-FRNIC) and a registrar.
SCENARIO = {
    "seed": 2,
    "registries": [{"name": "afnic", "tlds": ["fr"], "template": "afnic/afnic.fr.json"}],
}
NAMES = ["alpha.fr", "beta.fr", "gamma.fr"]


@pytest.fixture
async def env(simulator, tmp_path: Path) -> dict[str, Any]:
    sim = await simulator(SCENARIO)
    boot = sim.write_bootstrap(tmp_path / "boot")
    return {"bootstrap": boot, "cache": tmp_path / "c.duckdb", "progress": False, "limits": FAST}


def _people(entities: pl.DataFrame) -> pl.DataFrame:
    return entities.filter(pl.col("role") == "technical")


async def test_lookups_redact_individuals_by_default_and_record_it(env):
    result = await rdaplab.lookup_async(NAMES, **env)
    ent = result.entities
    assert ent.schema == ENTITIES_SCHEMA
    tech = _people(ent)
    assert tech.height == 6  # two technical contacts per answer
    assert tech["pii_redacted"].all()
    assert tech["name"].is_null().all() and tech["email"].is_null().all()
    assert tech["organization"].drop_nulls().len() == 6  # organization data stays
    registrar = ent.filter(pl.col("role") == "registrar")
    assert registrar["name"].drop_nulls().len() == 3 and not registrar["pii_redacted"].any()
    assert result.summary["privacy"]["redact_pii"] is True
    with Cache(env["cache"]) as cache:
        audit = cache.audits().row(0, named=True)
        # The raw answers are kept as served (default mode): the frames are what is redacted.
        assert cache.responses()["has_pii"].all()
    assert audit["batch_id"] == result.batch_id and audit["pii_kept"] is False


async def test_opting_out_is_explicit_and_audited(env):
    result = await rdaplab.lookup_async(
        NAMES, redact_pii=False, purpose="abuse study", legal_basis="art. 6(1)(f)", **env
    )
    tech = _people(result.entities)
    assert tech["name"].drop_nulls().len() == 6 and not tech["pii_redacted"].any()
    with Cache(env["cache"]) as cache:
        audit = cache.audits().row(0, named=True)
    assert audit["pii_kept"] is True
    assert audit["purpose"] == "abuse study" and audit["legal_basis"] == "art. 6(1)(f)"


async def test_fields_keep_only_the_named_columns(env):
    result = await rdaplab.lookup_async(NAMES, fields=["outcome", "registrar"], **env)
    assert result.domains.columns[-2:] == ["outcome", "registrar"]
    assert "email" not in result.entities.columns and "name" not in result.entities.columns
    with pytest.raises(rdaplab.InputError, match="registrant_email"):
        await rdaplab.lookup_async(NAMES, fields=["registrant_email"], **env)


async def test_strict_privacy_strips_personal_data_before_caching(env):
    result = await rdaplab.lookup_async(NAMES, privacy="strict", **env)
    assert result.summary["ok"] == 3
    with Cache(env["cache"]) as cache:
        stored = cache.responses()
    assert stored.height == 3
    assert not stored["has_pii"].any()
    assert not any(body_has_pii(b) for b in stored["body"].to_list())
    assert all("support@afnic.fr" in b for b in stored["body"].to_list())  # registrar kept
    # A second run is served from the stripped cache, still normalized fine.
    again = await rdaplab.lookup_async(NAMES, privacy="strict", **env)
    assert again.summary["cache_hits"] == 3 and again.summary["ok"] == 3
    with pytest.raises(rdaplab.InputError, match="privacy"):
        await rdaplab.lookup_async(NAMES, privacy="paranoid", **env)


async def test_retention_purges_old_personal_answers_when_the_cache_opens(env):
    first = await rdaplab.lookup_async(NAMES, **env)
    assert first.summary["requests"] == 3
    await asyncio.sleep(1.2)
    again = await rdaplab.lookup_async(NAMES, retention=1.0, **env)
    # Older than the retention: purged as the cache opened, so fetched again.
    assert again.summary["cache_hits"] == 0 and again.summary["requests"] == 3
    third = await rdaplab.lookup_async(NAMES, retention=3600, **env)
    assert third.summary["cache_hits"] == 3
    with pytest.raises(rdaplab.InputError, match="retention"):
        await rdaplab.lookup_async(NAMES, retention=0, **env)


async def test_load_result_redacts_by_default(env):
    await rdaplab.lookup_async(NAMES, redact_pii=False, **env)
    loaded = rdaplab.load_result(env["cache"])
    assert _people(loaded.entities)["name"].is_null().all()
    kept = rdaplab.load_result(env["cache"], redact_pii=False)
    assert _people(kept.entities)["name"].drop_nulls().len() == 6
