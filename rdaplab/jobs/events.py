"""The jobs layer's event record: a job changed state (the batch events of its runs come
through as well; see :mod:`rdaplab.batch.events`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rdaplab.batch.events import Event

__all__ = ["JobStateChanged"]


@dataclass(frozen=True, slots=True, kw_only=True)
class JobStateChanged(Event):
    """A worker moved a job to another state (``kind`` ``"job_state"``).

    Attributes
    ----------
    job_id, name
        The job, and its label.
    state, previous
        Its new and its former state (``queued``, ``running``, ``paused``, ``done``,
        ``failed``, ``cancelled``).
    message
        Why (``deadline reached``, ``preempted by job ...``, an error), or None.
    done, total
        Its rows finished, and its input rows.

    ``batch_id`` is the job's current (or last) run's batch, or ``""`` before its first.
    """

    kind: str = field(default="job_state", init=False)
    job_id: str
    name: str | None
    state: str
    previous: str
    message: str | None = None
    done: int = 0
    total: int | None = None
