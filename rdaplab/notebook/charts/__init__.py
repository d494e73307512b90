"""Altair charts of a lookup batch: thin functions returning plain ``alt.Chart`` objects.

Every function takes a :class:`~rdaplab.lookup.LookupResult` or the relevant Polars frame
(``domains``, ``attempts`` or ``nameservers``, see docs/schemas.md) and returns an Altair
chart you can restyle (``.properties(width=...)``, ``.configure_axis(...)``, ...). The
change-over-time charts (:func:`changes_by_kind`, :func:`transfer_flows`,
:func:`expiry_fates`) take the frames of ``rdaplab.diff`` and ``rdaplab.expiry_outcomes``.

Frames are aggregated in Polars first, so a chart embeds at most a few hundred rows
whatever the batch size: notebooks and reports stay light. Labels for registries and hosts
are readable: a registry is its base URL without the scheme (``rdap.verisign.com/com/v1``)
and a host its ``host:port``; on loopback (the bundled simulator) both become the URL's
first path segment (``verisign``), which is the simulated registry's name.

A chart whose input has no usable rows is a "no data" text chart (it never raises); its
``description`` says so (``"rdaplab:<chart>:empty"``; :func:`is_empty` reads it), and
:func:`report_charts` leaves such charts out. The ``rdaplab`` theme is opt-in:
:func:`enable_theme`.

The modules:

- :mod:`.inputs`: the input frame, readable labels, time buckets (Polars only);
- :mod:`.batch_data`, :mod:`.research_data`, :mod:`.changes_data`: the ``*_data``
  aggregations (Polars only);
- :mod:`.marks`: what every chart shares (description tag, "no data" chart, colours);
- :mod:`.batch_charts`, :mod:`.research_charts`, :mod:`.changes_charts`: the Altair chart
  builders;
- :mod:`.catalog`: the tables of charts, :func:`report_charts`,
  :func:`report_change_charts` and :class:`ResultCharts`;
- :mod:`.theme`: the opt-in ``rdaplab`` theme and the offline (PNG) renderer.
"""

from rdaplab.notebook.charts.batch_charts import (
    errors,
    host_rates,
    latency,
    registry_mix,
    throughput,
)
from rdaplab.notebook.charts.batch_data import (
    errors_data,
    host_rates_data,
    latency_data,
    registry_mix_data,
    throughput_data,
)
from rdaplab.notebook.charts.catalog import (
    CATALOG,
    CHANGE_CATALOG,
    CHANGE_CHARTS,
    CHARTS,
    ResultCharts,
    report_change_charts,
    report_charts,
)
from rdaplab.notebook.charts.changes_charts import (
    changes_by_kind,
    expiry_fates,
    transfer_flows,
)
from rdaplab.notebook.charts.changes_data import (
    EXPIRY_FATES,
    changes_by_kind_data,
    expiry_fates_data,
    transfer_flows_data,
)
from rdaplab.notebook.charts.marks import is_empty
from rdaplab.notebook.charts.research_charts import (
    expiry_calendar,
    nameserver_concentration,
    registrar_share,
    registrations_by_year,
)
from rdaplab.notebook.charts.research_data import (
    expiry_calendar_data,
    nameserver_concentration_data,
    provider_of,
    registrar_share_data,
    registrations_by_year_data,
)
from rdaplab.notebook.charts.theme import (
    disable_offline,
    disable_theme,
    enable_offline,
    enable_theme,
)

__all__ = [
    "CATALOG",
    "CHANGE_CATALOG",
    "CHANGE_CHARTS",
    "CHARTS",
    "EXPIRY_FATES",
    "ResultCharts",
    "changes_by_kind",
    "changes_by_kind_data",
    "disable_offline",
    "disable_theme",
    "enable_offline",
    "enable_theme",
    "errors",
    "errors_data",
    "expiry_calendar",
    "expiry_calendar_data",
    "expiry_fates",
    "expiry_fates_data",
    "host_rates",
    "host_rates_data",
    "is_empty",
    "latency",
    "latency_data",
    "nameserver_concentration",
    "nameserver_concentration_data",
    "provider_of",
    "registrar_share",
    "registrar_share_data",
    "registrations_by_year",
    "registrations_by_year_data",
    "registry_mix",
    "registry_mix_data",
    "report_change_charts",
    "report_charts",
    "throughput",
    "throughput_data",
    "transfer_flows",
    "transfer_flows_data",
]
