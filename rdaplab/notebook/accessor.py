"""The ``rdap`` namespace on Polars frames: ``df.rdap.lookup("domain")``.

Registered when :mod:`rdaplab` is imported (like ``df.str``-style namespaces in Polars
plugins). The eager form runs a batch and appends the normalized ``domains`` columns to
the input frame, row for row; the lazy form defers the batch until ``collect()``.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from rdaplab.errors import InputError
from rdaplab.frames import DOMAINS_SCHEMA

DEFAULT_SUFFIX = "_rdap"


def _added_columns(
    existing: list[str], columns: list[str] | None, suffix: str
) -> list[tuple[str, str]]:
    """``(result column, output name)`` pairs; names the input already has get ``suffix``."""
    wanted = [c for c in DOMAINS_SCHEMA if c != "query"] if columns is None else list(columns)
    unknown = [c for c in wanted if c not in DOMAINS_SCHEMA]
    if unknown:
        raise InputError(
            f"unknown result column(s) {', '.join(unknown)}; choose from "
            f"{', '.join(DOMAINS_SCHEMA)}"
        )
    taken = set(existing)
    out = []
    for name in wanted:
        alias = f"{name}{suffix}" if name in taken else name
        if alias in taken:
            raise InputError(f"output column {alias!r} already exists; pass another suffix=")
        taken.add(alias)
        out.append((name, alias))
    return out


def _output_schema(schema: pl.Schema, added: list[tuple[str, str]]) -> pl.Schema:
    return pl.Schema([*schema.items(), *((alias, DOMAINS_SCHEMA[n]) for n, alias in added)])


def _join(frame: pl.DataFrame, column: str, added: list[tuple[str, str]], kw: Any) -> pl.DataFrame:
    from rdaplab.batch import lookup

    if column not in frame.columns:
        raise InputError(f"no column {column!r} in the frame (columns: {', '.join(frame.columns)})")
    kind = kw.get("kind", "domain")
    if kind != "domain":
        raise InputError(
            f"df.rdap.lookup appends domain columns (kind='domain'), got kind={kind!r}; for "
            "IPs, ASNs, entities or nameservers use df.rdap.lookup_result(column, kind=...) "
            "and its networks / autnums / queries frames"
        )
    # Every value is a domain query here, whatever its shape: the rows must line up.
    domains = lookup(frame.get_column(column), **{**kw, "kind": "domain"}).domains
    # One row per input row, in input order: a horizontal concat is the join.
    return frame.hstack(domains.select(pl.col(n).alias(a) for n, a in added))


@pl.api.register_dataframe_namespace("rdap")
class RdapFrame:
    """``df.rdap``: RDAP lookups on a column of a Polars DataFrame.

    Examples
    --------
    >>> import polars as pl, rdaplab  # doctest: +SKIP
    >>> df = pl.DataFrame({"domain": ["example.com", "nic.fr"], "group": ["a", "b"]})
    >>> df.rdap.lookup("domain", cache="study.duckdb")  # doctest: +SKIP
    """

    def __init__(self, frame: pl.DataFrame) -> None:
        self._frame = frame

    def lookup(
        self,
        column: str = "domain",
        *,
        columns: list[str] | None = None,
        suffix: str = DEFAULT_SUFFIX,
        **kwargs: Any,
    ) -> pl.DataFrame:
        """Look up ``column`` and return the frame with the normalized columns appended.

        Parameters
        ----------
        column
            The column holding the names.
        columns
            Result columns to add (default: every ``domains`` column except ``query``;
            see docs/schemas.md).
        suffix
            Appended to a result column whose name the frame already has (e.g. the
            normalized ``domain`` becomes ``domain_rdap`` next to an input ``domain``).
        **kwargs
            Passed to :func:`rdaplab.lookup` (``cache=``, ``limits=``, ``progress=``, ...).

        Returns
        -------
        pl.DataFrame
            The input rows in their order, with the result columns after the input's.
        """
        added = _added_columns(self._frame.columns, columns, suffix)
        return _join(self._frame, column, added, kwargs)

    def lookup_result(self, column: str = "domain", **kwargs: Any) -> Any:
        """Look up ``column`` and return the whole :class:`~rdaplab.LookupResult`."""
        from rdaplab.batch import lookup

        return lookup(self._frame, column=column, **kwargs)


@pl.api.register_lazyframe_namespace("rdap")
class RdapLazyFrame:
    """``lf.rdap``: the lazy form; the batch runs when the query is collected."""

    def __init__(self, frame: pl.LazyFrame) -> None:
        self._frame = frame

    def lookup(
        self,
        column: str = "domain",
        *,
        columns: list[str] | None = None,
        suffix: str = DEFAULT_SUFFIX,
        **kwargs: Any,
    ) -> pl.LazyFrame:
        """The lazy :meth:`RdapFrame.lookup`: same arguments, returns a LazyFrame.

        The output schema is known without running anything; filters and slices placed
        after this step that only read input columns still look up every row (the batch
        runs once, on the whole collected input).
        """
        schema = self._frame.collect_schema()
        if column not in schema:
            raise InputError(
                f"no column {column!r} in the LazyFrame (columns: {', '.join(schema.names())})"
            )
        added = _added_columns(schema.names(), columns, suffix)
        return self._frame.map_batches(
            lambda df: _join(df, column, added, kwargs),
            schema=_output_schema(schema, added),
            # One batch over the whole input: pushing a filter or slice through would
            # change which names are looked up, and the streaming engine would run one
            # batch per chunk.
            predicate_pushdown=False,
            slice_pushdown=False,
            streamable=False,
        )
