"""The notebook layer: the progress widget, ``df.rdap``, Altair charts and HTML reports.

Importing this package loads neither Altair nor ipywidgets; the modules that need them
import them when used.
"""
