"""The batch pipeline: options, inputs, one run loop (:class:`BatchRun`), summaries and
results; ``lookup``, ``lookup_async``, ``start`` and ``stream`` all drive the run loop.
"""

from rdaplab.batch.api import Batch, StreamBatch, lookup, lookup_async, start, stream
from rdaplab.batch.changes import HISTORY_SCHEMA, diff, expiry_outcomes, history, snapshot
from rdaplab.batch.events import (
    EVENT_TYPES,
    Alert,
    AlertCleared,
    AlertThresholds,
    BatchFinished,
    BatchStarted,
    BreakerClosed,
    BreakerOpened,
    Event,
    EventHandler,
    HostExhausted,
    HostParked,
    HostThrottled,
    Progress,
)
from rdaplab.batch.load import load_result
from rdaplab.batch.options import LookupOptions, StreamOptions
from rdaplab.batch.progress import ProgressSnapshot, Renderer
from rdaplab.batch.result import (
    LookupResult,
    check_output_path,
    register_result_extension,
    write_frame,
)
from rdaplab.batch.run import BatchRun

__all__ = [
    "EVENT_TYPES",
    "HISTORY_SCHEMA",
    "Alert",
    "AlertCleared",
    "AlertThresholds",
    "Batch",
    "BatchFinished",
    "BatchRun",
    "BatchStarted",
    "BreakerClosed",
    "BreakerOpened",
    "Event",
    "EventHandler",
    "HostExhausted",
    "HostParked",
    "HostThrottled",
    "LookupOptions",
    "LookupResult",
    "Progress",
    "ProgressSnapshot",
    "Renderer",
    "StreamBatch",
    "StreamOptions",
    "check_output_path",
    "diff",
    "expiry_outcomes",
    "history",
    "load_result",
    "lookup",
    "lookup_async",
    "register_result_extension",
    "snapshot",
    "start",
    "stream",
    "write_frame",
]
