"""How charts look and show: the opt-in ``rdaplab`` Altair theme and the offline renderer.

Nothing here runs on import: :func:`enable_theme` and :func:`enable_offline` register and
enable, :func:`disable_theme` and :func:`disable_offline` restore what was active before.
"""

from __future__ import annotations

from typing import Any

import altair as alt

__all__ = ["disable_offline", "disable_theme", "enable_offline", "enable_theme"]

THEME = "rdaplab"
_previous_theme: list[str] = []


def _theme() -> alt.theme.ThemeConfig:
    font = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
    return {
        "config": {
            "font": font,
            "view": {"continuousWidth": 420, "continuousHeight": 260, "stroke": None},
            "title": {"fontSize": 14, "anchor": "start", "color": "#222222"},
            "axis": {
                "labelFontSize": 11,
                "titleFontSize": 12,
                "titleFontWeight": "normal",
                "gridColor": "#e6e6e6",
                "domainColor": "#888888",
                "tickColor": "#888888",
            },
            "legend": {"labelFontSize": 11, "titleFontSize": 12, "titleFontWeight": "normal"},
            "range": {
                "category": [
                    "#4c78a8",
                    "#f58518",
                    "#54a24b",
                    "#e45756",
                    "#72b7b2",
                    "#eeca3b",
                    "#b279a2",
                    "#ff9da6",
                    "#9d755d",
                    "#bab0ac",
                ]
            },
            "bar": {"cornerRadiusEnd": 2},
        }
    }


def enable_theme() -> None:
    """Register (once) and enable the ``rdaplab`` Altair theme for every chart.

    It is opt-in: importing rdaplab changes nothing. :func:`disable_theme` restores the
    theme that was active before.

    Examples
    --------
    >>> import altair as alt
    >>> enable_theme()
    >>> alt.theme.active
    'rdaplab'
    >>> disable_theme()
    >>> alt.theme.active
    'default'
    """
    if THEME not in alt.theme.names():
        alt.theme.register(THEME, enable=False)(_theme)
    if alt.theme.active != THEME:
        _previous_theme.append(alt.theme.active)
    alt.theme.enable(THEME)


def disable_theme() -> None:
    """Go back to the theme that was active before :func:`enable_theme` (or ``default``)."""
    if alt.theme.active == THEME:
        alt.theme.enable(_previous_theme.pop() if _previous_theme else "default")


OFFLINE_RENDERER = "rdaplab-offline"
# The "+json" form: notebook files may hold a JSON object only under such a type (Altair's
# own "...v6.json" fails nbformat validation), and it is what Jupyter's Vega extensions use.
VEGALITE_MIME_TYPE = "application/vnd.vegalite.v6+json"
_previous_renderer: list[str] = []


def _offline_renderer(spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    import base64

    import vl_convert as vlc

    png = vlc.vegalite_to_png(spec, scale=1)
    return {
        # A frontend with a Vega-Lite extension draws the interactive chart from the spec;
        # every other one (offline JupyterLab, VS Code, GitHub's viewer) shows the PNG.
        VEGALITE_MIME_TYPE: spec,
        "image/png": base64.b64encode(png).decode("ascii"),
        "text/plain": f"<rdaplab chart: {spec.get('description', 'altair')}>",
    }


def enable_offline() -> None:
    """Show charts in notebooks without a network: a PNG plus the Vega-Lite spec.

    Altair's default renderer loads the Vega libraries from a CDN, so charts stay blank
    on an offline machine. This renderer draws each chart to PNG in the kernel
    (vl-convert, no browser needed) and also sends the spec, which frontends with a
    Vega-Lite extension show interactively. :func:`disable_offline` restores the
    previous renderer.

    Examples
    --------
    >>> import altair as alt
    >>> enable_offline()
    >>> alt.renderers.active
    'rdaplab-offline'
    >>> disable_offline()
    """
    if OFFLINE_RENDERER not in alt.renderers.names():
        alt.renderers.register(OFFLINE_RENDERER, _offline_renderer)
    if alt.renderers.active != OFFLINE_RENDERER:
        _previous_renderer.append(alt.renderers.active)
    alt.renderers.enable(OFFLINE_RENDERER)


def disable_offline() -> None:
    """Go back to the renderer that was active before :func:`enable_offline`."""
    if alt.renderers.active == OFFLINE_RENDERER:
        alt.renderers.enable(_previous_renderer.pop() if _previous_renderer else "default")
