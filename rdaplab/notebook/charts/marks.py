"""What every Altair chart of rdaplab shares: its description tag, the "no data" chart, colours.

A chart whose input has no usable rows is a "no data" text chart (it never raises); its
``description`` says so (``"rdaplab:<chart>:empty"``; :func:`is_empty` reads it). (Not
``usermeta``: Vega-Lite allows it only on a top-level spec, so charts carrying it could not
be concatenated or layered.)
"""

from __future__ import annotations

from typing import Any, cast

import altair as alt
import polars as pl

from rdaplab.notebook.charts.inputs import ATTEMPT_RESULTS

OUTCOME_COLORS = {"ok": "#4c9a6a", "not_found": "#b0b0b0", "error": "#d1495b"}
ATTEMPT_COLORS = dict(zip(ATTEMPT_RESULTS, ("#4c78a8", "#f58518", "#d1495b"), strict=True))


def described(chart: Any, name: str, *, empty: bool) -> Any:
    # description is valid on every kind of spec, nested ones included (usermeta is not).
    return chart.properties(description=f"rdaplab:{name}" + (":empty" if empty else ""))


def no_data(name: str, title: str, width: int, height: int, why: str = "no data") -> alt.Chart:
    chart = (
        alt.Chart(pl.DataFrame({"message": [why]}))
        .mark_text(fontSize=14, color="#888888")
        .encode(text="message:N")
        .properties(title=title, width=width, height=height)
    )
    return cast(alt.Chart, described(chart, name, empty=True))


def is_empty(chart: alt.TopLevelMixin) -> bool:
    """Whether ``chart`` is an rdaplab "no data" placeholder.

    Examples
    --------
    >>> import polars as pl
    >>> from rdaplab.frames import DOMAINS_SCHEMA
    >>> from rdaplab.notebook.charts import registry_mix
    >>> is_empty(registry_mix(pl.DataFrame(schema=DOMAINS_SCHEMA)))
    True
    """
    description = getattr(chart, "description", alt.Undefined)
    return (
        isinstance(description, str)
        and description.startswith("rdaplab:")
        and description.endswith(":empty")
    )


def color_scale(colors: dict[str, str]) -> alt.Scale:
    return alt.Scale(domain=list(colors), range=list(colors.values()))
