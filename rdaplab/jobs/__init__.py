"""Durable jobs: studies that outlive a notebook kernel.

A job is submitted once (:func:`submit`, ``rdaplab job submit``), recorded in the cache's
job ledger, and run by a :class:`Worker` (``rdaplab worker``, or ``rdaplab serve``)
inside its window, until it is done, cancelled or past its deadline; any process can
follow and steer it (:class:`Job`). See docs/jobs.md.
"""

from rdaplab.engine.windows import Window
from rdaplab.jobs.job import PRIORITIES, Job, JobStatus, list_jobs, submit, warm_up
from rdaplab.jobs.ledger import STATES, jobs_dir
from rdaplab.jobs.worker import Worker

list = list_jobs  # rdaplab.jobs.list(cache), as the issue names it

__all__ = [
    "PRIORITIES",
    "STATES",
    "Job",
    "JobStatus",
    "Window",
    "Worker",
    "jobs_dir",
    "list",
    "list_jobs",
    "submit",
    "warm_up",
]
