"""Reading sources: encodings, delimiters, header rows and HXL tags, on the real corpus files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ckanx.datastore._source import (
    SAMPLE_BYTES,
    SourceError,
    detect_encoding,
    field_names,
    is_hxl_row,
    iter_csv_rows,
    open_source,
    sniff_layout,
)

# encodings as stated by the corpus' SOURCE.md files (not by our detector)
KNOWN = {
    "data_gov_uk/resources/spend_co_feb_17.csv": "cp850",
    "data_gov_uk/resources/spend_defra_jan_17.csv": "cp1252",
    "thedatahub_org/newcastle-payments-over-500-october_2011.csv": "cp1252",
    "data_gov_uk/resources/sunderland-bus-stops.csv": "utf-8",
    "hdx/resources/opri_data_zwe.csv": "utf-8",
}


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_corpus_encodings(corpus: Path, name: str) -> None:
    sample = (corpus / name).read_bytes()[:SAMPLE_BYTES]
    assert detect_encoding(sample) == KNOWN[name]


def test_bom_means_utf8() -> None:
    assert detect_encoding(b"\xef\xbb\xbfa,b\n1,2\n") == "utf-8-sig"


def test_utf8_cut_inside_a_character_is_still_utf8() -> None:
    text = ("caf\u00e9," * 10).encode()[:-2]  # ends with the first byte of an é
    assert detect_encoding(text) == "utf-8"
    # the same cut in a complete source is not UTF-8
    assert detect_encoding(text, complete=True) != "utf-8"


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Gr\u00f6\u00dfe,Stra\u00dfe,caf\u00e9\n", "latin-1"),
        ("price \u00a3500,don\u2019t\n", "cp1252"),
        ("OVER \u00a325K,na\u00efve\n", "cp850"),
    ],
)
def test_single_byte_text_decodes_to_the_same_characters(text: str, encoding: str) -> None:
    data = text.encode(encoding)
    detected = detect_encoding(data)
    # latin-1 and cp1252 agree on every byte outside 0x80-0x9f: either name decodes it right
    assert data.decode(detected) == text


def test_utf16_is_refused() -> None:
    with pytest.raises(SourceError, match="UTF-16"):
        detect_encoding("a,b\n".encode("utf-16"))


def test_header_after_title_lines(corpus: Path) -> None:
    data = (corpus / "thedatahub_org/newcastle-payments-over-500-october_2011.csv").read_bytes()
    layout = sniff_layout(data[:SAMPLE_BYTES], complete=True)
    assert layout.skip_rows == 2
    assert layout.header[0] == "Directorate"
    assert layout.preamble[0].startswith("Newcastle City Council Invoices over \u00a3500")
    co = (corpus / "data_gov_uk/resources/spend_co_feb_17.csv").read_bytes()
    layout = sniff_layout(co[:SAMPLE_BYTES], complete=True)
    assert layout.skip_rows == 6
    assert layout.header[:2] == ["DEPARTMENTAL FAMILY", "ENTITY"]


def test_hxl_row_found(corpus: Path) -> None:
    data = (corpus / "hdx/resources/opri_data_zwe.csv").read_bytes()
    layout = sniff_layout(data[:SAMPLE_BYTES])
    assert layout.hxl == ["#indicator+code", "#country+code", "#date+year", "#indicator+value+num", "", ""]
    assert is_hxl_row(["#adm1+name", "", "#affected +f"])
    assert not is_hxl_row(["#1", "x"])
    assert not is_hxl_row(["", ""])


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_delimiters(delimiter: str) -> None:
    text = "\n".join(delimiter.join(["a", "b,c", "d"]) for _ in range(5)).encode()
    assert sniff_layout(text, complete=True).delimiter == delimiter


def test_field_names_are_made_acceptable() -> None:
    names, renamed = field_names(["_id", "a", "A", "", 'say "hi"', "x" * 70, " AMOUNT\n(\u00a3) "], list(range(7)))
    assert names == ["id", "a", "A_2", "column_4", "say 'hi'", "x" * 63, "AMOUNT (\u00a3)"]
    assert renamed["id"] == "_id" and renamed["AMOUNT (\u00a3)"] == " AMOUNT\n(\u00a3) "
    assert "a" not in renamed


def test_invalid_byte_after_the_sample_is_reported_with_its_offset() -> None:
    body = b"a,b\n" + b"x,\xc3\xa9\n" * (SAMPLE_BYTES // 5 + 10)
    bad = body + b"y,\xe9\n"
    opened = open_source(io.BytesIO(bad))
    layout = sniff_layout(opened.sample, complete=opened.complete)
    assert layout.encoding == "utf-8"
    with pytest.raises(SourceError, match=r"byte 0xe9 .* not valid utf-8"):
        for _ in iter_csv_rows(opened, layout):
            pass


def test_text_file_objects_are_read() -> None:
    opened = open_source(io.StringIO("a,b\n\u00e9,2\n"))
    layout = sniff_layout(opened.sample, complete=opened.complete)
    assert list(iter_csv_rows(opened, layout)) == [["\u00e9", "2"]]
