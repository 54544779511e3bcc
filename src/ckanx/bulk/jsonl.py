"""JSON-lines input and output for the bulk commands: plain or gzip, files or pipes.

Input is read line by line (never the whole file) and each record carries its 1-based line number,
so a malformed line is reported as ``input line 17: invalid JSON: ...``. Output goes through
:class:`DurableOutput`, which writes whole records only and can make them durable (``fsync``) before a
checkpoint says they exist: this is what lets ``--resume`` promise "no record lost, none duplicated".
"""

from __future__ import annotations

import gzip
import io
import json
import os
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

__all__ = [
    "DurableOutput",
    "InputError",
    "InputLine",
    "compact_json",
    "is_gzip_path",
    "iter_lines",
    "open_input",
    "read_tail_records",
]

GZIP_MAGIC = b"\x1f\x8b"


class InputError(ValueError):
    """Unusable input (malformed JSON, unreadable file): one line naming where, exit code 2."""


@dataclass(frozen=True)
class InputLine:
    """One non-blank input line: its 1-based line number, its text, and its parsed JSON (if any)."""

    number: int
    text: str
    value: Any


# json.dumps with non-default options builds a new encoder per call; for dumps of 100,000 records
# that was a quarter of the encoding time, so the two encoders are made once
_SORTED = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)
_UNSORTED = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=False)


def compact_json(value: Any, *, sort_keys: bool = True) -> str:
    """One-line JSON, UTF-8 kept readable, keys sorted so dumps can be diffed (as ckanapi does)."""
    return (_SORTED if sort_keys else _UNSORTED).encode(value)


def is_gzip_path(path: str | os.PathLike[str] | None) -> bool:
    """Whether a file name asks for gzip (``.gz``)."""
    return path is not None and str(path).endswith(".gz")


def open_input(path: str | os.PathLike[str] | None, *, gzip_flag: bool = False) -> IO[bytes]:
    """Open ``path`` (``None`` or ``-``: stdin) for binary reading, un-gzipping when asked or detected.

    gzip is used with ``-z``, a ``.gz`` name, or (for regular files) the gzip magic bytes.
    """
    if path is None or str(path) == "-":
        raw: IO[bytes] = sys.stdin.buffer
        return gzip.GzipFile(fileobj=raw, mode="rb") if gzip_flag else raw  # type: ignore[return-value]
    try:
        raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror}") from None
    if gzip_flag or is_gzip_path(path) or raw.peek(2)[:2] == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def iter_lines(stream: IO[bytes], source: str, *, parse: bool = True) -> Iterator[InputLine]:
    """Yield the non-blank lines of ``stream`` with their line numbers.

    With ``parse`` each line must be JSON, otherwise :class:`InputError` names the line; without it,
    ``value`` is the parsed JSON or ``None`` for lines that are not JSON (plain names).
    """
    number = 0
    try:
        for number, raw in enumerate(stream, 1):
            try:
                text = raw.decode("utf-8").strip()
            except UnicodeDecodeError as err:
                raise InputError(f"{source} line {number}: not UTF-8 ({err.reason})") from None
            if not text:
                continue
            try:
                value = json.loads(text)
            except RecursionError:
                raise InputError(f"{source} line {number}: invalid JSON: nested too deeply") from None
            except ValueError as err:
                if parse:
                    raise InputError(f"{source} line {number}: invalid JSON: {err}") from None
                value = None
            yield InputLine(number, text, value)
    except (OSError, EOFError, zlib.error) as err:
        # gzip.BadGzipFile is an OSError; a truncated .gz ends in EOFError
        raise InputError(f"{source} after line {number}: cannot read: {err}") from None


class DurableOutput:
    """An append-only JSON-lines output that can say exactly how many bytes are safely on disk.

    ``write_records`` writes a batch in one ``write`` call (for gzip: one complete gzip member, so a
    crash can only tear the last member); ``sync`` flushes and ``fsync``s and returns the file offset
    up to which the output is durable. Pipes (stdout) cannot be synced; ``offset`` still counts.
    """

    def __init__(
        self,
        path: Path | None,
        *,
        gzip_output: bool,
        append: bool = False,
        defer: bool = False,
        before_replace: Callable[[], None] | None = None,
    ) -> None:
        self.path = path
        self.gzip = gzip_output
        self._before_replace = before_replace
        self._file: IO[bytes] | None
        if path is None:
            self._file = sys.stdout.buffer
            self._owned = False
            self.offset = 0
        elif append or not defer:
            self._file = open(path, "ab" if append else "wb")  # noqa: SIM115 - closed in close()
            self._owned = True
            self.offset = self._file.tell()
        else:
            # ``defer``: an existing file is replaced only when the first records are written (or
            # the caller calls ``create`` when the job is done): a job that fails before writing
            # anything leaves it intact.
            self._file = None
            self._owned = True
            self.offset = 0

    def create(self) -> IO[bytes]:
        """Open (and truncate) the output now, if it is not open yet."""
        if self._file is None:
            assert self.path is not None
            if self._before_replace is not None:
                self._before_replace()  # e.g. drop the old job's checkpoint before its output goes
            self._file = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        return self._file

    def write_records(self, records: list[Any]) -> None:
        """Write records as JSON lines (keys sorted), as one chunk."""
        if not records:
            return
        data = "".join(compact_json(r) + "\n" for r in records).encode("utf-8")
        if self.gzip:
            data = gzip.compress(data, compresslevel=6, mtime=0)
        self.create().write(data)
        self.offset += len(data)

    def sync(self) -> int:
        """Make everything written durable; return the durable offset."""
        offset = self.flush()
        self.fsync()
        return offset

    def flush(self) -> int:
        """Hand everything written to the OS (not yet durable); return the offset reached."""
        if self._file is not None:
            self._file.flush()
        return self.offset

    def fsync(self) -> None:
        """Make what :meth:`flush` handed to the OS durable. Safe on another thread while this one
        writes on: it syncs the file descriptor only, never the Python buffer."""
        if self._file is not None and self._owned:
            os.fsync(self._file.fileno())

    def close(self) -> None:
        """Flush, sync and close (stdout is flushed, not closed)."""
        try:
            self.sync()
        finally:
            if self._owned and self._file is not None:
                self._file.close()


def read_tail_records(path: Path, offset: int, *, gzip_output: bool) -> tuple[list[Any], int]:
    """Records that were written after ``offset`` (the last checkpoint) and survived a crash.

    Returns ``(records, end)``: the complete records found after ``offset`` and the offset where the
    last complete one ends. Bytes after ``end`` are a torn write (half a line, half a gzip member) and
    hold no complete record; the caller cuts them off before appending.
    """
    with open(path, "rb") as f:
        f.seek(offset)
        tail = f.read()
    records: list[Any] = []
    if not gzip_output:
        cut = tail.rfind(b"\n") + 1
        for line in tail[:cut].split(b"\n"):
            if line.strip():
                records.append(json.loads(line))
        return records, offset + cut
    pos = 0
    while pos < len(tail):
        dec = zlib.decompressobj(wbits=31)
        try:
            data = dec.decompress(tail[pos:])
        except zlib.error:
            break
        if not dec.eof:
            break  # torn member: everything from pos on is incomplete
        consumed = len(tail) - pos - len(dec.unused_data)
        for line in io.BytesIO(data):
            if line.strip():
                records.append(json.loads(line))
        pos += consumed
    return records, offset + pos
