"""The audit trail: one row per batch of what was looked up, why, and what was kept.

Written by the batch layer (``record_audit``) and read back with ``audits``; the rows
hold no contact data, so purges keep them. See ``docs/cache.md``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

import duckdb
import polars as pl

from rdaplab._version import __version__
from rdaplab.errors import CacheError
from rdaplab.store.connection import Connection
from rdaplab.store.schema import AUDIT_SCHEMA
from rdaplab.store.sql import upsert, utc

__all__ = ["AuditTrail"]


class AuditTrail(Connection):
    """The audit methods of :class:`~rdaplab.store.cache.Cache`."""

    def record_audit(
        self,
        batch_id: str,
        *,
        ran_at: datetime,
        objects: Mapping[str, int],
        pii_kept: bool,
        privacy: str = "default",
        purpose: str | None = None,
        legal_basis: str | None = None,
        retention_s: float | None = None,
        fields: Sequence[str] | None = None,
        finished_at: datetime | None = None,
    ) -> None:
        """Record (or update, for a resumed batch) one batch's audit row.

        Parameters
        ----------
        batch_id
            The batch; one audit row per batch (recording again replaces it, keeping
            the earliest ``ran_at``).
        ran_at, finished_at
            When the batch started and ended (``finished_at`` None while running).
        objects
            Objects looked up, by kind (``{"domain": 120, "ip": 3}``); stored as JSON.
        pii_kept
            True when personal data was kept in the frames (``redact_pii=False``).
        privacy
            The privacy mode (``"default"`` or ``"strict"``).
        purpose, legal_basis
            As declared by the caller (free text, e.g. ``"GDPR Art. 6(1)(f)"``).
        retention_s
            The retention in force, in seconds (None: none).
        fields
            The ``fields=`` selection in force (None: every column).

        Raises
        ------
        CacheError
            The cache is read-only or closed, or the write failed.
        """
        counts = {str(k): int(v) for k, v in objects.items()}
        con = self._writable()
        with self._lock:
            try:
                upsert(
                    con,
                    "audit",
                    {
                        "batch_id": batch_id,
                        "ran_at": utc(ran_at),
                        "finished_at": None if finished_at is None else utc(finished_at),
                        "objects": json.dumps(counts, sort_keys=True),
                        "purpose": purpose,
                        "legal_basis": legal_basis,
                        "pii_kept": bool(pii_kept),
                        "privacy": str(privacy),
                        "retention_s": None if retention_s is None else float(retention_s),
                        "fields": None if fields is None else json.dumps(list(fields)),
                        "rdaplab_version": __version__,
                    },
                    key="batch_id",
                    earliest="ran_at",
                )
            except duckdb.Error as exc:
                raise CacheError(
                    f"cannot record the audit of batch {batch_id} in {self.path}: {exc}"
                ) from exc

    def audits(self) -> pl.DataFrame:
        """The audit trail, newest first: one row per recorded batch.

        Returns
        -------
        pl.DataFrame
            Columns of :data:`AUDIT_SCHEMA`: ``batch_id``, ``ran_at``, ``finished_at``
            (UTC), ``objects`` (JSON text: kind -> count), ``purpose``, ``legal_basis``,
            ``pii_kept``, ``privacy``, ``retention_s``, ``fields`` (JSON list or null),
            ``rdaplab_version``.
        """
        cols = ", ".join(AUDIT_SCHEMA)
        with self._lock:
            df = self._c.sql(f"SELECT {cols} FROM audit ORDER BY ran_at DESC, batch_id").pl()
        return df.cast(AUDIT_SCHEMA)
