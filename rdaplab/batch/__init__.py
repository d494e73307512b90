"""The batch pipeline: options, inputs, one run loop, summaries and results;
``lookup``, ``lookup_async``, ``start`` and ``stream`` all drive it.
"""
