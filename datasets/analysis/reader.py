"""Stream a CSV as UTF-8 chunks of whole records, with bounded memory.

The file is read block by block (any binary file object: a local file, an S3
object). Non-UTF-8 text is transcoded on the fly, chunks are cut only at record
boundaries (a newline outside quotes, so quoted values may hold newlines), and
each chunk remembers the file line it starts on, so errors can name the line.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from datasets.analysis.sniff import Dialect
from training_image.csv_dialect import undecodable

# 1.5 MiB: peak RSS ~135 MB on any file size. In the bench, 2 MiB was ~10 MB heavier and no
# faster, 1 MiB ~10 MB lighter and ~20 % slower, 4 MiB ~40 MB heavier and no faster.
BLOCK_BYTES = 3 << 19
# A "quoted value" longer than this is not one: a stray quote mark (12" pizza) in an
# unquoted field flipped the parity, so we cut at a newline regardless and move on.
MAX_CARRY_BYTES = 4 * BLOCK_BYTES

Source = str | os.PathLike | BinaryIO


class Reencode(Exception):
    """The file is not valid in the encoding the head suggested; read it as `encoding`."""

    def __init__(self, encoding: str) -> None:
        super().__init__(encoding)
        self.encoding = encoding


@dataclass
class Chunk:
    data: bytes  # whole records, UTF-8, each ending in a newline
    first_line: int  # 1-based line of the file the first record starts on


@contextmanager
def open_source(source: Source) -> Iterator[BinaryIO]:
    """A seekable binary file object for a path or an open file (rewound, left open)."""
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as handle:
            yield handle
    elif source.seekable():
        source.seek(0)
        yield source
    else:
        # A rescan (wider column type, other encoding) reads the file again: spool a
        # one-way stream to a temporary file first (memory up to 8 MiB, then disk).
        with tempfile.SpooledTemporaryFile(max_size=8 << 20) as spooled:
            shutil.copyfileobj(source, spooled, BLOCK_BYTES)
            spooled.seek(0)
            yield spooled


def utf8_blocks(
    handle: BinaryIO, dialect: Dialect, block_bytes: int = BLOCK_BYTES
) -> Iterator[bytes]:
    """The file's bytes as UTF-8 blocks, BOM removed, line endings kept (except lone CR)."""
    if handle.seekable():
        handle.seek(0)
    if not dialect.needs_transcoding:
        first = True
        while block := handle.read(block_bytes):
            if first:
                first = False
                if block.startswith(codecs.BOM_UTF8):
                    block = block[len(codecs.BOM_UTF8) :]
            yield block
        return
    decoder = codecs.getincrementaldecoder(dialect.codec)()
    first = True
    while True:
        raw = handle.read(block_bytes)
        try:
            text = decoder.decode(raw, final=not raw)
        except UnicodeDecodeError:
            fallback = dialect.csv.fallback()
            if fallback is not None:
                raise Reencode(fallback.encoding) from None
            raise undecodable(dialect.csv) from None
        if first:
            first = False
            text = text.removeprefix("\ufeff")
        if dialect.line_terminator == "\r":
            text = text.replace("\r", "\n")
        if text:
            yield text.encode("utf-8")
        if not raw:
            return


def _last_record_end(data: bytes, quote: bytes) -> int:
    """Index just after the last newline that lies outside quotes, or -1."""
    pos = data.rfind(b"\n")
    if pos < 0:
        return -1
    if quote not in data:  # most files quote nothing: skip the count
        return pos + 1
    quotes = data.count(quote, 0, pos)
    while quotes % 2:  # this newline sits inside a quoted value: try the one before
        previous = data.rfind(b"\n", 0, pos)
        if previous < 0:
            return -1
        quotes -= data.count(quote, previous, pos)
        pos = previous
    return pos + 1


def record_chunks(blocks: Iterator[bytes], dialect: Dialect) -> Iterator[Chunk]:
    """Chunks of whole records after the header record, each with its starting line."""
    quote = dialect.quotechar.encode()
    carry = b""
    line = 1
    header_done = False
    for block in blocks:
        data = carry + block if carry else block
        if not header_done:
            # Skip blank lines before the header, then the header record itself.
            stripped = data.lstrip(b"\r\n")
            line += data[: len(data) - len(stripped)].count(b"\n")
            data = stripped
            end = _first_record_end(data, quote)
            if end < 0:
                carry = data
                continue
            line += data.count(b"\n", 0, end)
            data = data[end:]
            header_done = True
        cut = _last_record_end(data, quote)
        if cut < 0 and len(data) > MAX_CARRY_BYTES:
            cut = data.rfind(b"\n") + 1 or -1
        if cut <= 0:
            carry = data
            continue
        chunk, carry = data[:cut], data[cut:]
        yield Chunk(chunk, line)
        line += chunk.count(b"\n")
    if header_done and carry.strip():
        yield Chunk(carry if carry.endswith(b"\n") else carry + b"\n", line)


def _first_record_end(data: bytes, quote: bytes) -> int:
    pos = 0
    while True:
        nl = data.find(b"\n", pos)
        if nl < 0:
            return -1
        if data.count(quote, 0, nl) % 2 == 0:
            return nl + 1
        pos = nl + 1


def find_bad_line(chunk: Chunk, dialect: Dialect, width: int) -> tuple[int, int] | None:
    """The first record of `chunk` with more fields than the header: (line, fields)."""
    text = chunk.data.decode("utf-8", errors="replace")
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=dialect.delimiter, quotechar=dialect.quotechar
    )
    start = 0
    try:
        for row in reader:
            if len(row) > width:
                return chunk.first_line + start, len(row)
            start = reader.line_num
    except csv.Error:
        return chunk.first_line + start, 0
    return None
