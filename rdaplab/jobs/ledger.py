"""The job ledger: every job's state, progress and control requests, in a small SQLite file
beside the DuckDB cache (``study.duckdb`` -> ``study.duckdb.jobs/jobs.sqlite``).

Why not a table in the cache itself: DuckDB lets one process at a time open a file for
writing, and a worker holds the cache for as long as it runs (days). The ledger must stay
readable and writable by every other process meanwhile (``rdaplab job status``,
``pause``, the web service). SQLite in WAL mode is made for that: readers never wait,
writers wait a few milliseconds for each other, and it ships with Python (nothing to
install). Each call opens the file, does one transaction and closes it, so no process
keeps a lock between calls. The answers themselves stay in the cache; each job's rows
are written as Parquet parts beside the ledger (:mod:`rdaplab.jobs.parts`).

Migrations are a registered list (``MIGRATIONS``), applied in order and recorded in
``PRAGMA user_version``.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rdaplab.errors import InputError

__all__ = ["ACTIVE_STATES", "FINAL_STATES", "STATES", "Ledger", "jobs_dir"]

STATES = ("queued", "running", "paused", "done", "failed", "cancelled")
FINAL_STATES = ("done", "failed", "cancelled")
ACTIVE_STATES = ("queued", "running", "paused")

MIGRATIONS: list[str] = [
    # 1: jobs and their state changes
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        name TEXT,
        state TEXT NOT NULL,
        priority INTEGER NOT NULL,
        priority_name TEXT NOT NULL,
        options TEXT NOT NULL,
        input_column TEXT,
        input_source TEXT,
        source TEXT NOT NULL DEFAULT 'values',
        time_window TEXT,
        deadline_at REAL,
        created_at REAL NOT NULL,
        first_started_at REAL,
        started_at REAL,
        finished_at REAL,
        updated_at REAL NOT NULL,
        total INTEGER,
        done INTEGER NOT NULL DEFAULT 0,
        ok INTEGER NOT NULL DEFAULT 0,
        not_found INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0,
        requests INTEGER NOT NULL DEFAULT 0,
        throttled INTEGER NOT NULL DEFAULT 0,
        cache_hits INTEGER NOT NULL DEFAULT 0,
        rate_per_s REAL,
        eta_s REAL,
        hosts TEXT,
        control TEXT,
        paused_by TEXT,
        worker TEXT,
        heartbeat_at REAL,
        message TEXT,
        segments INTEGER NOT NULL DEFAULT 0,
        batch_ids TEXT NOT NULL DEFAULT '[]'
    );
    CREATE TABLE job_log (
        job_id TEXT NOT NULL,
        at REAL NOT NULL,
        state TEXT NOT NULL,
        message TEXT
    );
    CREATE INDEX job_log_job ON job_log(job_id, at);
    """,
    # 2: the alerts active in a job's running batch (names, JSON)
    """
    ALTER TABLE jobs ADD COLUMN alerts TEXT
    """,
]

_JSON_COLUMNS = ("options", "hosts", "batch_ids", "alerts")


def jobs_dir(cache: str | Path) -> Path:
    """The folder of a cache's jobs: the ledger and each job's input and result parts."""
    text = str(cache)
    if text == ":memory:":
        raise InputError(
            "jobs need a cache file (a worker in another process must reach it), not ':memory:'"
        )
    return Path(text).expanduser().resolve().with_name(Path(text).name + ".jobs")


class Ledger:
    """The jobs of one cache (see the module). Cheap to create: nothing stays open."""

    def __init__(self, cache: str | Path, *, create: bool = True) -> None:
        self.dir = jobs_dir(cache)
        self.path = self.dir / "jobs.sqlite"
        if not create and not self.path.exists():
            raise InputError(f"no jobs were ever submitted to {cache} (no {self.path})")
        if create:
            self.dir.mkdir(parents=True, exist_ok=True)
            with self._tx() as db:
                self._migrate(db)

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            for statement in script.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")

    # -- rows ---------------------------------------------------------------------------
    @staticmethod
    def _row(row: sqlite3.Row) -> dict[str, Any]:
        out = dict(row)
        for key in _JSON_COLUMNS:
            if out.get(key) is not None:
                out[key] = json.loads(out[key])
        return out

    def insert(self, job: dict[str, Any]) -> None:
        row = {k: json.dumps(v) if k in _JSON_COLUMNS else v for k, v in job.items()}
        with self._tx() as db:
            row["seq"] = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs").fetchone()[0]
            cols = ", ".join(row)
            marks = ", ".join("?" for _ in row)
            db.execute(f"INSERT INTO jobs ({cols}) VALUES ({marks})", list(row.values()))
            db.execute(
                "INSERT INTO job_log VALUES (?, ?, ?, ?)",
                (job["id"], job["created_at"], job["state"], "submitted"),
            )

    def get(self, job_id: str) -> dict[str, Any]:
        with self._tx() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:  # a unique prefix will do, as with git
                rows = db.execute(
                    "SELECT * FROM jobs WHERE id LIKE ? LIMIT 2", (job_id + "%",)
                ).fetchall()
                row = rows[0] if len(rows) == 1 and len(job_id) >= 4 else None
        if row is None:
            raise InputError(f"no job {job_id!r} in {self.path}")
        return self._row(row)

    def all(self) -> list[dict[str, Any]]:
        with self._tx() as db:
            rows = db.execute("SELECT * FROM jobs ORDER BY seq").fetchall()
        return [self._row(r) for r in rows]

    def log(self, job_id: str) -> list[dict[str, Any]]:
        with self._tx() as db:
            rows = db.execute(
                "SELECT at, state, message FROM job_log WHERE job_id = ? ORDER BY at, rowid",
                (job_id,),
            ).fetchall()
        return [dict(r) for r in rows]

    def update(self, job_id: str, **fields: Any) -> None:
        """Set fields (progress, heartbeat); no state change here."""
        fields["updated_at"] = time.time()
        row = {k: json.dumps(v) if k in _JSON_COLUMNS else v for k, v in fields.items()}
        sets = ", ".join(f"{k} = ?" for k in row)
        with self._tx() as db:
            db.execute(f"UPDATE jobs SET {sets} WHERE id = ?", [*row.values(), job_id])

    def transition(
        self,
        job_id: str,
        state: str,
        *,
        expect: tuple[str, ...] | None = None,
        message: str | None = None,
        **fields: Any,
    ) -> bool:
        """Move a job to ``state`` (only from ``expect``, when given); logged. False when
        the job was not in an expected state (someone else moved it first)."""
        assert state in STATES, state
        now = time.time()
        fields.update(state=state, updated_at=now, message=message)
        if state in FINAL_STATES:
            fields.setdefault("finished_at", now)
        row = {k: json.dumps(v) if k in _JSON_COLUMNS else v for k, v in fields.items()}
        sets = ", ".join(f"{k} = ?" for k in row)
        with self._tx() as db:
            current = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if current is None or (expect is not None and current[0] not in expect):
                return False
            db.execute(f"UPDATE jobs SET {sets} WHERE id = ?", [*row.values(), job_id])
            db.execute("INSERT INTO job_log VALUES (?, ?, ?, ?)", (job_id, now, state, message))
        return True

    def request(self, job_id: str, control: str) -> str:
        """Ask for ``pause``, ``resume`` or ``cancel``; returns the state it leaves the job
        in (a running job's worker acts on the request within a poll interval)."""
        with self._tx() as db:
            row = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise InputError(f"no job {job_id!r} in {self.path}")
            state = row[0]
            now = time.time()

            def move(new: str, message: str, **extra: Any) -> str:
                sets = ", ".join(f"{k} = ?" for k in ("state", "updated_at", "message", *extra))
                db.execute(
                    f"UPDATE jobs SET {sets} WHERE id = ?",
                    [new, now, message, *extra.values(), job_id],
                )
                db.execute("INSERT INTO job_log VALUES (?, ?, ?, ?)", (job_id, now, new, message))
                return new

            if state in FINAL_STATES:
                done = {"pause": "paused", "resume": "resumed", "cancel": "cancelled"}
                raise InputError(f"job {job_id} is {state}: it cannot be {done[control]}")
            if control == "cancel":
                if state == "running":
                    db.execute("UPDATE jobs SET control = 'cancel' WHERE id = ?", (job_id,))
                    return state
                return move("cancelled", "cancelled", finished_at=now, control=None)
            if control == "pause":
                if state == "running":
                    db.execute("UPDATE jobs SET control = 'pause' WHERE id = ?", (job_id,))
                    return state
                if state == "paused":
                    return move("paused", "paused", paused_by="user")
                return move("paused", "paused before it ran", paused_by="user", control=None)
            if control == "resume":
                if state == "running":
                    db.execute("UPDATE jobs SET control = NULL WHERE id = ?", (job_id,))
                    return state
                if state == "paused":
                    return move("queued", "resumed", paused_by=None, control=None)
                return state
            raise ValueError(f"unknown control {control!r}")
