"""Reading tabular sources for the DataStore: encodings, delimiters, header rows, HXL tags.

A source is read twice at most, and never whole into memory: a *sample* (the first
:data:`SAMPLE_BYTES`) decides the encoding, the delimiter and where the header is; the rows are then
streamed from the start. Decisions made on the sample are *verified* while streaming: a byte that is
not valid in the chosen encoding stops the import with a one-line :class:`SourceError` naming the
byte offset, rather than writing mojibake.

Encoding rule (see ``docs/datastore.md``): a UTF-8 BOM means UTF-8; a sample that decodes as UTF-8
is UTF-8; otherwise the single-byte code pages cp1252, cp850 and latin-1 are each decoded and scored
on how plausible their non-ASCII characters look in context (a currency sign next to a digit, an
accented lower-case letter inside a word and typographic quotes are plausible; control characters,
box drawing and capitals in the middle of lower-case words are not). Ties go to cp1252.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

__all__ = ["SAMPLE_BYTES", "CSVLayout", "SourceError", "detect_encoding", "open_source", "sniff_layout"]

SAMPLE_BYTES = 256 * 1024
SINGLE_BYTE_CANDIDATES = ("cp1252", "cp850", "latin-1")
HEADER_SCAN_ROWS = 30
MAX_FIELD_NAME = 63


class SourceError(ValueError):
    """The source cannot be read as the table it claims to be (encoding, shape, columns)."""


# ---------------------------------------------------------------- byte streams


class _PrefixedStream(io.RawIOBase):
    """Bytes already read (the sample) followed by the rest of the underlying stream."""

    def __init__(self, prefix: bytes, rest: IO[bytes] | None) -> None:
        self._prefix = memoryview(prefix)
        self._rest = rest
        self.offset = 0  # bytes handed out so far, for error messages

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = len(buffer)
        if self._prefix.nbytes:
            k = min(n, self._prefix.nbytes)
            buffer[:k] = self._prefix[:k]
            self._prefix = self._prefix[k:]
            self.offset += k
            return k
        if self._rest is None:
            return 0
        data = self._rest.read(n)
        if not data:
            return 0
        buffer[: len(data)] = data
        self.offset += len(data)
        return len(data)


class _IterStream(io.RawIOBase):
    """A readable binary stream over an iterator of byte chunks (an HTTP response body)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        k = min(len(buffer), len(self._pending))
        buffer[:k] = self._pending[:k]
        self._pending = self._pending[k:]
        return k


def _read_sample(stream: IO[bytes], size: int) -> bytes:
    parts = []
    got = 0
    while got < size:
        chunk = stream.read(size - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


# ---------------------------------------------------------------- encoding


def _char_score(ch: str, prev: str, nxt: str) -> int:
    """How plausible one non-ASCII character is in its context (see the module docstring)."""
    cat = unicodedata.category(ch)
    code = ord(ch)
    if cat in ("Cc", "Cn", "Co", "Cs") or 0x2500 <= code <= 0x259F:
        return -10
    if cat == "Sc":
        return 3 if (prev.isdigit() or nxt.isdigit() or prev in " (" or nxt in " )") else 0
    if cat.startswith("P"):
        return 2
    if cat == "Zs":
        return 1
    if cat.startswith("L"):
        if prev.isdigit() or nxt.isdigit():
            return -3
        if ch.isupper() and prev.islower():
            return -3
        if ch.islower() and prev.isalpha():
            return 2
        return 1
    if cat == "So":
        return -4
    return 0


def _plausibility(text: str) -> int:
    score = 0
    for i, ch in enumerate(text):
        if ord(ch) < 128:
            continue
        prev = text[i - 1] if i else " "
        nxt = text[i + 1] if i + 1 < len(text) else " "
        score += _char_score(ch, prev, nxt)
    return score


def detect_encoding(sample: bytes, *, complete: bool = False) -> str:
    """The encoding of a byte sample: ``utf-8-sig``, ``utf-8``, ``cp1252``, ``cp850`` or ``latin-1``.

    ``complete`` says the sample is the whole source (a multi-byte character cut at the end of a
    partial sample is not an error).
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise SourceError("UTF-16 sources are not supported: convert to UTF-8 first")
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=complete)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    best: tuple[int, str] | None = None
    for candidate in SINGLE_BYTE_CANDIDATES:
        try:
            text = sample.decode(candidate)
        except UnicodeDecodeError:
            continue
        score = _plausibility(text)
        if best is None or score > best[0]:
            best = (score, candidate)
    assert best is not None  # latin-1 decodes any byte
    return best[1]


# ---------------------------------------------------------------- CSV layout


@dataclass
class CSVLayout:
    """What the sample says about a CSV source.

    Attributes:
        encoding: the detected (or given) encoding.
        delimiter: the field separator.
        skip_rows: rows before the header (titles, blank lines) that are not part of the table.
        preamble: the text of those rows, reported back to the user.
        header: the header cells as written.
        hxl: the HXL hashtag row under the header, or ``None``.
    """

    encoding: str
    delimiter: str
    skip_rows: int
    preamble: list[str]
    header: list[str]
    hxl: list[str] | None = None
    columns_kept: list[int] = field(default_factory=list)


def _sniff_delimiter(text: str) -> str:
    """The candidate that splits the sample into the most consistent, widest rows.

    Rows are parsed with each candidate (so quoted cells with commas or line breaks count right);
    the score is the share of non-blank rows having the most common width, then that width.
    """
    best, best_score = ",", (0.0, 0)
    for cand in ",;\t|":
        try:
            rows = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=cand) if any(r)][:200]
        except csv.Error:
            continue
        widths = [len(r) for r in rows]
        if not widths:
            continue
        mode = max(set(widths), key=lambda w: (widths.count(w), w))
        if mode < 2:
            continue
        score = (round(widths.count(mode) / len(widths), 1), mode)
        if score > best_score:
            best, best_score = cand, score
    return best


def is_hxl_row(cells: list[str]) -> bool:
    """True for an HXL hashtag row: every non-empty cell is a ``#tag`` (and there is at least one)."""
    values = [c.strip() for c in cells if c.strip()]
    return bool(values) and all(re.fullmatch(r"#[A-Za-z][\w]*(\s*[+][\w]+)*", v) for v in values)


def sniff_layout(sample: bytes, *, encoding: str | None = None, complete: bool = False,
                 skip_rows: int | None = None, delimiter: str | None = None) -> CSVLayout:
    """Decide encoding, delimiter and header position from a byte sample."""
    enc = encoding or detect_encoding(sample, complete=complete)
    text = codecs.getincrementaldecoder(enc)(errors="replace").decode(sample, final=True)
    if not complete:
        # drop the last (probably cut) line
        cut = max(text.rfind("\n"), 0)
        text = text[:cut]
    delim = delimiter or _sniff_delimiter(text)
    rows = list(_take(csv.reader(io.StringIO(text, newline=""), delimiter=delim), HEADER_SCAN_ROWS + 50))
    if skip_rows is None:
        skip_rows = _header_index(rows)
    if skip_rows >= len(rows):
        raise SourceError("no header row found" if rows else "the source is empty")
    header = rows[skip_rows]
    hxl = rows[skip_rows + 1] if len(rows) > skip_rows + 1 and is_hxl_row(rows[skip_rows + 1]) else None
    preamble = [delim.join(r) for r in rows[:skip_rows]]
    return CSVLayout(enc, delim, skip_rows, preamble, header, hxl)


def _take(it: Iterator[list[str]], n: int) -> Iterator[list[str]]:
    for i, row in enumerate(it):
        if i >= n:
            return
        yield row


def _header_index(rows: list[list[str]]) -> int:
    """The first row as wide as the table: title lines and blank lines before it are skipped.

    The table's width is the most common number of non-empty cells among the scanned rows; the
    header is the first row with at least that many (a header names every column, data rows may
    have gaps).
    """
    counts = [sum(1 for c in r if c.strip()) for r in rows]
    nonzero = [c for c in counts if c]
    if not nonzero:
        return 0
    width = max(set(nonzero), key=lambda c: (nonzero.count(c), c))
    need = max(min(width, max(nonzero)), 1)
    for i, c in enumerate(counts[:HEADER_SCAN_ROWS]):
        if c >= need and (c >= 2 or max(nonzero) == 1):
            return i
    return 0


def field_names(header: list[str], keep: list[int]) -> tuple[list[str], dict[str, str]]:
    """DataStore field ids for the kept header cells, and ``{field id: original}`` for renamed ones.

    CKAN refuses names that are empty, start with ``_``, contain ``"`` or exceed 63 characters, and
    duplicates; whitespace (including line breaks in quoted headers) is collapsed.
    """
    names: list[str] = []
    renamed: dict[str, str] = {}
    seen: set[str] = set()
    for i in keep:
        original = header[i] if i < len(header) else ""
        name = " ".join(original.split()).replace('"', "'").lstrip("_").strip()
        if not name:
            name = f"column_{i + 1}"
        name = name[:MAX_FIELD_NAME]
        base, n = name, 2
        while name.lower() in seen:
            suffix = f"_{n}"
            name = base[: MAX_FIELD_NAME - len(suffix)] + suffix
            n += 1
        seen.add(name.lower())
        names.append(name)
        if name != original:
            renamed[name] = original
    return names, renamed


# ---------------------------------------------------------------- opening


@dataclass
class OpenedSource:
    """A binary stream positioned at the start of a source, with its sample and identity."""

    stream: _PrefixedStream
    sample: bytes
    complete: bool  # the sample is the whole source
    name: str
    kind: str  # "csv" | "jsonl"
    size: int | None
    closer: Any = None

    def close(self) -> None:
        """Close what was opened for this source (not a file object the caller passed)."""
        if self.closer is not None:
            self.closer()


def _kind_for(name: str, sample: bytes) -> str:
    lower = name.lower()
    if lower.endswith((".jsonl", ".ndjson", ".jsonl.gz")):
        return "jsonl"
    if lower.endswith((".csv", ".tsv", ".txt", ".csv.gz")):
        return "csv"
    stripped = sample.lstrip(codecs.BOM_UTF8).lstrip()
    return "jsonl" if stripped.startswith(b"{") else "csv"


def open_source(source: Any, *, kind: str | None = None) -> OpenedSource:
    """Open a path or a binary/text file object and read its sample.

    ``http(s)`` URLs are not opened here: the import downloads them first (with the client's
    ``stream()``, so the token rule and TLS settings apply) and opens the downloaded file.
    """
    closer = None
    size: int | None = None
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        raise SourceError(f"{source}: a URL source must be downloaded first (DataStore.import_table does that)")
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            fh = open(path, "rb")  # noqa: SIM115 - closed by OpenedSource.close
        except OSError as err:
            raise SourceError(f"cannot read {path}: {err.strerror}") from None
        raw = fh
        closer = fh.close
        name = path.name
        size = path.stat().st_size
        if name.endswith(".gz"):
            import gzip

            raw = gzip.open(fh)  # type: ignore[assignment]  # noqa: SIM115 - closed with fh
            size = None
    elif isinstance(source, io.TextIOBase) or (hasattr(source, "read") and isinstance(source.read(0), str)):
        # a text file object: re-encode as UTF-8 so one reader serves both
        raw = _IterStream(chunk.encode("utf-8") for chunk in iter(lambda: source.read(65536), ""))  # type: ignore[assignment]
        name = str(getattr(source, "name", "") or "source.csv")
    elif hasattr(source, "read"):
        raw = source
        name = os.path.basename(str(getattr(source, "name", "") or "source.csv"))
    else:
        raise TypeError(f"cannot import from {type(source).__name__}: give a path, a file object or a URL")
    sample = _read_sample(raw, SAMPLE_BYTES)
    complete = len(sample) < SAMPLE_BYTES
    stream = _PrefixedStream(sample, None if complete else raw)
    return OpenedSource(stream, sample, complete, name, kind or _kind_for(name, sample), size, closer)


def iter_csv_rows(opened: OpenedSource, layout: CSVLayout) -> Iterator[list[str]]:
    """The data rows (after the preamble, the header and any HXL row), decoded strictly.

    Raises :class:`SourceError` at the first byte that is not valid in ``layout.encoding``.
    """
    text = io.TextIOWrapper(io.BufferedReader(opened.stream, 1 << 16), encoding=layout.encoding,
                            errors="strict", newline="")
    reader = csv.reader(text, delimiter=layout.delimiter)
    skip = layout.skip_rows + 1 + (1 if layout.hxl is not None else 0)
    try:
        for i, row in enumerate(reader):
            if i < skip:
                continue
            yield row
    except UnicodeDecodeError as err:
        raise SourceError(
            f"byte 0x{err.object[err.start]:02x} near offset {opened.stream.offset} is not valid "
            f"{layout.encoding} (detected from the first {len(opened.sample)} bytes): pass the right "
            "encoding (--encoding)"
        ) from None
    except csv.Error as err:
        raise SourceError(f"CSV error at row {reader.line_num}: {err}") from None


def iter_jsonl_rows(opened: OpenedSource) -> Iterator[dict[str, Any]]:
    """Objects from JSON lines (blank lines skipped)."""
    text = io.TextIOWrapper(io.BufferedReader(opened.stream, 1 << 16), encoding="utf-8-sig", errors="strict")
    for n, line in enumerate(text, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as err:
            raise SourceError(f"line {n}: not JSON: {err}") from None
        if not isinstance(obj, dict):
            raise SourceError(f"line {n}: expected a JSON object, got {type(obj).__name__}")
        yield obj
