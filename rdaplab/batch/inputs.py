"""Turning what a user hands us (a column, a list, a file) into a list of query values."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

from rdaplab.errors import InputError

DEFAULT_COLUMN = "domain"
FILE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq", ".txt", ".lst", ".list")


def read_values(values: Any, *, column: str | None = None) -> list[Any]:
    """Return the query values, in order, from any supported input.

    Parameters
    ----------
    values
        A Polars Series, DataFrame or LazyFrame, a pandas Series or DataFrame, a list or
        other iterable of values, a :class:`~pathlib.Path` (or a string ending in a known
        file suffix) naming a CSV, TSV, Parquet or text file (one name per line), or a
        single name as a string.
    column
        For frames and tabular files: the column holding the names. Defaults to
        ``domain``, or the only column when there is just one.
    """
    if isinstance(values, pl.Series):
        return values.to_list()
    if isinstance(values, pl.LazyFrame):
        name = _pick_column(values.collect_schema().names(), column, "the LazyFrame")
        return values.select(pl.col(name)).collect()[name].to_list()
    if isinstance(values, pl.DataFrame):
        name = _pick_column(values.columns, column, "the DataFrame")
        return values[name].to_list()
    if isinstance(values, Path) or (
        isinstance(values, str) and values.lower().endswith(FILE_SUFFIXES)
    ):
        return read_file(Path(values), column=column)
    if isinstance(values, str):
        return [values]
    if _is_pandas(values):
        if hasattr(values, "columns"):
            name = _pick_column([str(c) for c in values.columns], column, "the DataFrame")
            return list(values[name].tolist())
        return list(values.tolist())
    if isinstance(values, Iterable):
        return list(values)
    raise InputError(
        f"cannot look up {type(values).__name__!s}: pass a Polars/pandas column, a list of "
        "names, or a file path"
    )


def read_file(path: Path, *, column: str | None = None) -> list[Any]:
    """Read names from a CSV/TSV/Parquet file or a text file with one name per line."""
    if not path.exists():
        raise InputError(f"input file not found: {path}")
    if not path.is_file():
        raise InputError(f"input is not a file: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv"):
            frame = pl.read_csv(
                path,
                separator="\t" if suffix == ".tsv" else ",",
                infer_schema=False,  # names stay strings: "1.1" must not become a float
            )
        elif suffix in (".parquet", ".pq"):
            frame = pl.read_parquet(path)
        else:
            text = path.read_text(encoding="utf-8-sig")
            return [
                line.strip()
                for line in text.splitlines()
                if line.strip() and not line.lstrip().startswith("#")
            ]
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    name = _pick_column(frame.columns, column, str(path))
    return frame[name].to_list()


def _pick_column(columns: list[str], column: str | None, where: str) -> str:
    if column is not None:
        if column not in columns:
            raise InputError(f"column {column!r} not found in {where}; columns: {columns}")
        return column
    if DEFAULT_COLUMN in columns:
        return DEFAULT_COLUMN
    if len(columns) == 1:
        return columns[0]
    raise InputError(
        f"{where} has no {DEFAULT_COLUMN!r} column and several others {columns}: "
        "name one with column= (--column on the command line)"
    )


def _is_pandas(obj: Any) -> bool:
    return type(obj).__module__.split(".", 1)[0] == "pandas"
