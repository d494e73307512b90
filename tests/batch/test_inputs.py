"""Input files that are not UTF-8 (rdaplab.batch.inputs): a one-line error saying where and
how to fix it, and ``read_input_file`` (``rdaplab lookup --encoding``) reading them."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from rdaplab.batch.inputs import check_encoding, open_source, read_input_file, read_values
from rdaplab.errors import InputError

LATIN1 = "domain\ncafé.fr\nexample.com\n".encode("latin-1")  # "é" is the byte 0xe9


@pytest.mark.parametrize("name", ["in.csv", "in.tsv", "in.txt"])
def test_latin1_file_read_as_utf8_says_where_and_how(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(LATIN1)
    fixed = tmp_path / name.replace("in.", "in-utf8.")
    want = (
        f"cannot read {path}: it is not UTF-8 text (byte 0xe9 on line 2); if it is Latin-1 "
        "or Windows-1252, pass --encoding latin-1 (or cp1252), or re-encode it: "
        f"iconv -f latin1 -t utf-8 {path} > {fixed}"
    )
    with pytest.raises(InputError) as got:
        read_values(path)
    assert str(got.value) == want
    with pytest.raises(InputError) as got:  # a stream says the same, up front or per chunk
        list(open_source(path, None, 10).chunks)
    assert str(got.value) == want


@pytest.mark.parametrize("name", ["in.csv", "in.tsv", "in.txt"])
@pytest.mark.parametrize("encoding", ["latin-1", "ISO-8859-1", "cp1252"])
def test_read_input_file_decodes(tmp_path: Path, name: str, encoding: str) -> None:
    path = tmp_path / name
    path.write_bytes(LATIN1)
    got = read_input_file(path, encoding=encoding)
    if name == "in.txt":
        assert got == ["domain", "café.fr", "example.com"]
    else:
        assert isinstance(got, pl.DataFrame)
        assert got.to_dict(as_series=False) == {"domain": ["café.fr", "example.com"]}


def test_read_input_file_other_cases(tmp_path: Path) -> None:
    parquet = tmp_path / "in.parquet"
    pl.DataFrame({"domain": ["café.fr"]}).write_parquet(parquet)
    got = read_input_file(parquet, encoding="latin-1")  # Parquet text is UTF-8 anyway
    assert isinstance(got, pl.DataFrame) and got["domain"].to_list() == ["café.fr"]
    csv = tmp_path / "in.csv"
    csv.write_bytes(LATIN1)
    with pytest.raises(InputError, match=r"column 'host' not found in .*in\.csv"):
        read_input_file(csv, encoding="latin-1", column="host")
    with pytest.raises(InputError, match=r"it is not ascii text \(byte 0xe9 on line 2\)"):
        read_input_file(csv, encoding="ascii")
    with pytest.raises(InputError, match="input file not found"):
        read_input_file(tmp_path / "nowhere.csv", encoding="latin-1")
    bom = tmp_path / "bom.csv"  # a byte order mark is no part of the first column's name
    bom.write_bytes("domain\ncafé.fr\n".encode("utf-8-sig"))
    got = read_input_file(bom, encoding="utf-8-sig")
    assert isinstance(got, pl.DataFrame) and got.columns == ["domain"]


def test_bad_byte_found_past_the_first_block(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    lines = [f"name{i:07d}.example" for i in range(150_000)]  # ~3 MB: several 1 MB blocks
    path.write_bytes(("\n".join(lines) + "\ncafé.fr\n").encode("latin-1"))
    with pytest.raises(InputError, match=r"byte 0xe9 on line 150001\)"):
        read_values(path)


def test_check_encoding() -> None:
    assert check_encoding("Latin-1") == "iso8859-1"
    assert check_encoding("UTF8") == "utf-8"
    with pytest.raises(InputError, match="unknown encoding 'nope'"):
        check_encoding("nope")
    with pytest.raises(InputError, match="not a text encoding"):
        check_encoding("base64")
