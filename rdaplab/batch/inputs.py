"""Turning what a user hands us (a column, a list, a file) into query values: all at once
(:func:`read_values`) or chunk by chunk, never holding the whole input (:func:`open_source`)."""

from __future__ import annotations

import asyncio
import codecs
import io
import itertools
import shlex
from collections.abc import Iterable, Iterator, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from rdaplab.errors import InputError

DEFAULT_COLUMN = "domain"
FILE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq", ".txt", ".lst", ".list")


# Columns named for domains: under kind="auto" their values are domains (URLs and e-mail
# addresses included), so one junk value cannot turn the batch into a mixed one.
DOMAIN_COLUMNS = frozenset(
    {"domain", "domains", "domain_name", "domain_names", "domainname", "fqdn", "hostname",
     "hostnames", "url", "urls", "email", "emails", "e_mail", "email_address"}
)  # fmt: skip


def named_for_domains(column: str | None) -> bool:
    """Whether a column's name says it holds domains (``Domain``, ``domain-name``, ``URL``,
    ``email``...: :data:`DOMAIN_COLUMNS`, case, spaces and hyphens aside)."""
    if not column:
        return False
    key = column.strip().lower().replace("-", "_").replace(" ", "_")
    return key in DOMAIN_COLUMNS


def kind_for(kind: str, column: str | None) -> str:
    """The kind a batch uses: ``kind``, except ``"auto"`` over a column named for domains,
    which is ``"domain"``."""
    return "domain" if kind == "auto" and named_for_domains(column) else kind


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
    return read_named_values(values, column=column)[0]


def read_named_values(values: Any, *, column: str | None = None) -> tuple[list[Any], str | None]:
    """:func:`read_values`, and the name of the column the values came from (a frame's or
    a table file's column, a Series' name; None for lists and text files)."""
    if isinstance(values, pl.Series):
        return values.to_list(), values.name or None
    if isinstance(values, pl.LazyFrame):
        name = _pick_column(values.collect_schema().names(), column, "the LazyFrame")
        return values.select(pl.col(name)).collect()[name].to_list(), name
    if isinstance(values, pl.DataFrame):
        name = _pick_column(values.columns, column, "the DataFrame")
        return values[name].to_list(), name
    if isinstance(values, Path) or (
        isinstance(values, str) and values.lower().endswith(FILE_SUFFIXES)
    ):
        return _read_file(Path(values), column=column)
    if isinstance(values, str):
        return [values], None
    if _is_pandas(values):
        if hasattr(values, "columns"):
            name = _pick_column([str(c) for c in values.columns], column, "the DataFrame")
            return list(values[name].tolist()), name
        return list(values.tolist()), _series_name(values)
    if isinstance(values, Iterable):
        return list(values), None
    raise InputError(
        f"cannot look up {type(values).__name__!s}: pass a Polars/pandas column, a list of "
        "names, or a file path"
    )


# --------------------------------------------------------------------------- encodings


def check_encoding(encoding: str) -> str:
    """``encoding``'s canonical codec name (``"latin-1"`` -> ``"iso8859-1"``).

    Raises
    ------
    InputError
        No such text encoding.
    """
    try:
        info = codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise InputError(
            f"unknown encoding {encoding!r}: try utf-8, latin-1, cp1252 (Python codec names)"
        ) from None
    if not getattr(info, "_is_text_encoding", True):  # base64, rot13...
        raise InputError(f"{encoding!r} is not a text encoding")
    return info.name


def is_utf8(encoding: str) -> bool:
    return check_encoding(encoding) == "utf-8"


def _not_text_where(path: Path, encoding: str) -> str | None:
    """Where ``path`` stops being ``encoding`` text (``"byte 0xe9 on line 2"``), or None
    when it all decodes; read in blocks, never the whole file at once."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 1
    try:
        with path.open("rb") as fh:
            while block := fh.read(1 << 20):
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as exc:
                    # exc.object may start with a partial sequence held from the last block
                    start = max(exc.start - (len(exc.object) - len(block)), 0)
                    line += block.count(b"\n", 0, start)
                    return f"byte 0x{exc.object[exc.start]:02x} on line {line}"
                line += block.count(b"\n")
            decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:  # a truncated sequence at the end
        return f"byte 0x{exc.object[exc.start]:02x} on line {line}"
    except UnicodeError as exc:  # e.g. UTF-16 without a byte order mark
        return str(exc)
    except OSError:
        return None
    return None


def _unreadable(path: Path, exc: BaseException, encoding: str = "utf-8") -> InputError:
    """The one-line error of an input file that could not be read: when it is not text of
    ``encoding`` (a Latin-1 file read as UTF-8), where and how to fix that."""
    where = None
    if path.suffix.lower() not in (".parquet", ".pq"):  # binary: no text encoding to blame
        where = _not_text_where(path, encoding)
    if where is None:
        return InputError(f"cannot read {path}: {exc}")
    if not is_utf8(encoding):
        return InputError(
            f"cannot read {path}: it is not {encoding} text ({where}); pass the encoding it "
            "was saved in with --encoding"
        )
    fixed = path.with_name(f"{path.stem}-utf8{path.suffix}")
    return InputError(
        f"cannot read {path}: it is not UTF-8 text ({where}); if it is Latin-1 or "
        "Windows-1252, pass --encoding latin-1 (or cp1252), or re-encode it: "
        f"iconv -f latin1 -t utf-8 {shlex.quote(str(path))} > {shlex.quote(str(fixed))}"
    )


def read_input_file(
    path: Path, *, encoding: str, column: str | None = None
) -> pl.DataFrame | list[str]:
    """A whole input file decoded from ``encoding`` (``rdaplab lookup --encoding``).

    Polars reads UTF-8 only: the text is decoded here and handed over as UTF-8.

    Returns
    -------
    polars.DataFrame or list of str
        CSV and TSV files as a frame of string columns (Parquet files as they are: their
        text is UTF-8 by definition); text files as their names (one a line, blank lines
        and ``#`` comments skipped).

    Raises
    ------
    InputError
        Missing or unreadable file, unknown encoding, bytes that are not ``encoding``
        text, or a ``column`` the file does not have.
    """
    check_encoding(encoding)
    _check_file(path)
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        try:
            frame = pl.read_parquet(path)
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise InputError(f"cannot read {path}: {exc}") from exc
    elif suffix in (".csv", ".tsv"):
        try:
            text = path.read_bytes().decode(encoding)
        except UnicodeError as exc:
            raise _unreadable(path, exc, encoding) from exc
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc}") from exc
        try:
            frame = pl.read_csv(
                io.BytesIO(text.removeprefix("\ufeff").encode("utf-8")),
                separator="\t" if suffix == ".tsv" else ",",
                infer_schema=False,  # as _read_file: names stay strings
            )
        except pl.exceptions.PolarsError as exc:
            raise InputError(f"cannot read {path}: {exc}") from exc
    else:
        try:
            return list(_text_lines(path, encoding))
        except UnicodeError as exc:
            raise _unreadable(path, exc, encoding) from exc
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc}") from exc
    _pick_column(frame.columns, column, str(path))  # a missing column names the file
    return frame


# --------------------------------------------------------------------------- files


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"input file not found: {path}")
    if not path.is_file():
        raise InputError(f"input is not a file: {path}")


def read_file(path: Path, *, column: str | None = None) -> list[Any]:
    """Read names from a CSV/TSV/Parquet file or a text file with one name per line."""
    return _read_file(path, column=column)[0]


def _series_name(series: Any) -> str | None:
    name = getattr(series, "name", None)
    return name if isinstance(name, str) and name else None


def _read_file(path: Path, *, column: str | None = None) -> tuple[list[Any], str | None]:
    _check_file(path)
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
            return list(_text_lines(path)), None
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        raise _unreadable(path, exc) from exc
    name = _pick_column(frame.columns, column, str(path))
    return frame[name].to_list(), name


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


# --------------------------------------------------------------------------- chunks


@dataclass
class Source:
    total: int | None
    chunks: Iterator[list[Any]]
    blocking: bool  # reading a chunk may take a while (file, query): do it off the loop
    column: str | None = None  # the column the values come from, when they have one


def _chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def _frame_chunks(series: pl.Series, size: int) -> Iterator[list[Any]]:
    for start in range(0, series.len(), size):
        yield read_values(series.slice(start, size))


def open_source(values: Any, column: str | None, size: int) -> Source:
    """The input as chunks of at most about ``size`` values, and its row count if cheap."""
    if isinstance(values, pl.LazyFrame):
        name = _pick_column(values.collect_schema().names(), column, "the LazyFrame")
        lazy = values.select(pl.col(name))
        total = int(lazy.select(pl.len()).collect().item())
        batches = lazy.collect_batches(chunk_size=size)
        return Source(total, (df[name].to_list() for df in batches), blocking=True, column=name)
    if isinstance(values, pl.DataFrame):
        name = _pick_column(values.columns, column, "the DataFrame")
        values = values[name]
    if isinstance(values, pl.Series):
        return Source(
            values.len(), _frame_chunks(values, size), blocking=False, column=values.name or None
        )
    if isinstance(values, Path) or (
        isinstance(values, str) and values.lower().endswith(FILE_SUFFIXES)
    ):
        return _open_file(Path(values), column, size)
    if isinstance(values, str):
        return Source(1, iter([[values]]), blocking=False)
    if _is_pandas(values):
        if hasattr(values, "columns"):
            name = _pick_column([str(c) for c in values.columns], column, "the DataFrame")
            values = values[name]
        series = values
        return Source(
            len(series),
            (list(series.iloc[i : i + size].tolist()) for i in range(0, len(series), size)),
            blocking=False,
            column=_series_name(series),
        )
    if isinstance(values, Iterable):
        size_hint: int | None = len(values) if isinstance(values, Sized) else None
        return Source(size_hint, _chunked(values, size), blocking=False)
    raise InputError(
        f"cannot stream {type(values).__name__!s}: pass a Polars/pandas column or frame, a "
        "LazyFrame, an iterable of names, or a file path"
    )


def _open_file(path: Path, column: str | None, size: int) -> Source:
    # pyarrow (and numpy under it) loads with the first streamed file, not with rdaplab.
    import pyarrow as pa
    import pyarrow.parquet as pq

    _check_file(path)
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv"):
            sep = "\t" if suffix == ".tsv" else ","
            # Polars counts rows and reads the header cheaply (no values are kept); pyarrow's
            # streaming reader then reads the one column block by block.
            scan = pl.scan_csv(path, separator=sep, infer_schema=False)
            name = _pick_column(scan.collect_schema().names(), column, str(path))
            total = int(scan.select(pl.len()).collect().item())
            return Source(total, _csv_chunks(path, sep, name, size), blocking=True, column=name)
        if suffix in (".parquet", ".pq"):
            pf = pq.ParquetFile(path)
            name = _pick_column(pf.schema_arrow.names, column, str(path))
            total = pf.metadata.num_rows
            pf.close()
            return Source(total, _parquet_chunks(path, name, size), blocking=True, column=name)
        total = sum(1 for _ in _text_lines(path))
        return Source(total, _chunked(_text_lines(path), size), blocking=True)
    except (pl.exceptions.PolarsError, pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        raise _unreadable(path, exc) from exc


def _csv_chunks(path: Path, sep: str, name: str, size: int) -> Iterator[list[Any]]:
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    # Names stay strings ("1.1" must not become a float); an empty field is null, as in
    # Polars' read_csv used by lookup().
    convert = pa_csv.ConvertOptions(
        include_columns=[name],
        column_types={name: pa.string()},
        strings_can_be_null=True,
        null_values=[""],
    )
    try:
        reader = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(block_size=1 << 20),
            parse_options=pa_csv.ParseOptions(delimiter=sep),
            convert_options=convert,
            # The system allocator hands freed blocks back; Arrow's default pool keeps them.
            memory_pool=pa.system_memory_pool(),
        )
    except pa.ArrowException as exc:  # it reads (and converts) the first block already
        raise _unreadable(path, exc) from exc
    try:
        pending: list[Any] = []
        for batch in reader:
            pending.extend(batch.column(0).to_pylist())
            while len(pending) >= size:
                yield pending[:size]
                del pending[:size]
        if pending:
            yield pending
    except pa.ArrowException as exc:
        raise _unreadable(path, exc) from exc
    finally:
        reader.close()


def _parquet_chunks(path: Path, name: str, size: int) -> Iterator[list[Any]]:
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as pf:
        for batch in pf.iter_batches(batch_size=size, columns=[name]):
            yield batch.column(0).to_pylist()


def _text_lines(path: Path, encoding: str = "utf-8") -> Iterator[str]:
    # One name per line, blanks and # comments skipped; a UTF-8 byte order mark is dropped.
    with path.open(encoding="utf-8-sig" if is_utf8(encoding) else encoding) as fh:
        for line in fh:
            text = line.strip()
            if text and not text.startswith("#"):
                yield text


async def next_chunk(source: Source) -> list[Any] | None:
    """The next chunk of ``source`` (None at its end), read off the loop when that may block."""
    if source.blocking:
        return await asyncio.to_thread(next, source.chunks, None)
    return next(source.chunks, None)
