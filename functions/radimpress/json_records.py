"""Reading records out of a JSON array or JSON Lines stream, safely.

A file is read as a stream, so a file of any size costs memory for one block of records at a
time (a chunk of JSON Lines, or ARRAY_BATCH array elements). Each record comes out as its parsed
value, or, when it cannot be read safely (nested too deep, an integer json refuses, invalid
UTF-8, a line too long), as a ``_Hostile`` marker naming why, so that the input contract
(:mod:`radimpress.records`) rejects that record alone. A file that cannot be read at all (empty,
compressed, not UTF-8, not JSON) raises :class:`UnreadableFile`; one that holds no record at all
(0 bytes, only white space, ``[]``) raises :class:`NoRecords`, one kind of it.

An array element is parsed only once it is known to be at most MAX_RECORD_CHARS long: a longer
one is skipped by a scan that holds one chunk at a time and comes out as a ``_Hostile`` record,
so a 200 MB element costs a chunk of memory, not twice its size.
"""

from __future__ import annotations

import codecs
import json
import re
import sys
from collections.abc import Callable, Iterator
from itertools import chain, compress, count
from typing import IO, Any

CHUNK_CHARS = 1 << 20
# What the workstation's orjson path reads at a time: a block of lines parsed together, small
# enough that its records' memory is reused by the next block (page faults cost more than
# parsing on a fresh process).
QUICK_CHUNK_BYTES = 1 << 16
ARRAY_BATCH = 256  # JSON array elements per batch


# Characters a terminal or log viewer acts on instead of showing: C0 and C1 controls, DEL, the
# bidirectional marks, embeddings, overrides and isolates, the line and paragraph separators, and
# lone surrogates (no UTF-8 stream can carry them).
_UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def printable(text: str) -> str:
    """``text`` with each control, bidi-control or separator character written as ``\\uXXXX``.

    For every message that names something a sender chose (a study id, a field name, a file or
    key name): a right-to-left override or a line separator in it is shown, never obeyed.
    """
    if text.isascii() and text.isprintable():
        return text
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class UnreadableFile(ValueError):
    """The file as a whole cannot be read: empty, not JSON, or not UTF-8."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{printable(source)}: {reason}")
        self.source = source
        self.reason = reason

    def __reduce__(self) -> tuple[type[UnreadableFile], tuple[str, str]]:
        """Pickled by its two parts (a file read in another process reports as here)."""
        return type(self), (self.source, self.reason)


class NoRecords(UnreadableFile):
    """The file is readable but holds no record: 0 bytes, only white space, or ``[]``.

    Every reader treats it as unusable input (``validate`` and ``run`` exit 2, Ingest fails the
    run), the same as an unreadable file: there is nothing to validate, train on or score.
    """


# Hostile records are rejected one by one; these bound what one record may cost to read.
MAX_DEPTH = 64  # a report record is flat; json's C parser itself gives up near 1,000 levels
MAX_LINE_BYTES = 4 * 1024 * 1024  # one JSON Lines record (3 x 20,000 characters, escaped)
MAX_RECORD_CHARS = MAX_LINE_BYTES  # one JSON array element, in characters
# A JSON Lines file is recognised by a line that is a JSON object: lines before the first one
# that are not JSON wait (their numbers only) to be rejected one by one; when none of the first
# this many non-blank lines is an object, the file is not JSON Lines at all.
MAX_LEADING_NON_OBJECTS = 1000
_BRACKETS = ("[", "{")

# What a compressed upload starts with (the file is then named as what it is).
_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"PK\x03\x04", "zip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
_UTF16_32_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
_UTF8_BOM = b"\xef\xbb\xbf"


class _Hostile:
    """A record that could not be read safely: why, and in which top-level field (if known).

    ``field`` is the name as the sender wrote it; the input contract names it in a rejection
    only if it is one of its own fields (a sender's field names may be text).
    """

    __slots__ = ("field", "json", "reason")

    def __init__(self, reason: str, field: str | None = None, json: bool = False) -> None:
        # json: the record was read as JSON (too deep, an integer too long), not bytes or a
        # length that stopped it before.
        self.reason, self.field, self.json = reason, field, json


class _DuplicateKeys(dict[str, Any]):
    """A JSON object that names a field more than once (json keeps the last value silently)."""

    duplicates: tuple[str, ...] = ()


def _object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    seen: set[str] = set()
    repeated: list[str] = []
    for key, _ in pairs:
        if key in seen:
            repeated.append(key)
        seen.add(key)
    marked = _DuplicateKeys(pairs)
    marked.duplicates = tuple(repeated)
    return marked


_DECODER = json.JSONDecoder(object_pairs_hook=_object_pairs)

# One JSON token at a time (strings whole), for the slow path that measures a hostile record.
_TOKEN = re.compile(
    r'\s+|"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}:,]|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?'
    r"|true|false|null"
)


def _scan(  # noqa: C901  one token loop, no recursion: a branch per JSON token kind
    text: str, pos: int
) -> tuple[int | None, int, str | None, str | None]:
    """Walk one JSON value from ``pos`` without recursion.

    Returns (end or None when the text ends first, maximum depth, the top-level field where the
    depth first passed MAX_DEPTH, the top-level field holding the first integer json refuses).
    Raises ValueError on a character that cannot start a token.
    """
    depth = max_depth = 0
    field: str | None = None
    deep_field: str | None = None
    long_field: str | None = None
    last_string: str | None = None
    stack: list[str] = []
    limit = sys.get_int_max_str_digits() or 1 << 62
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ValueError(f"not valid JSON at character {pos}")
        token = match.group()
        pos = match.end()
        first = token[0]
        if first in " \t\r\n":
            continue
        if first in "[{":
            stack.append(first)
            depth += 1
            if depth > max_depth:
                max_depth = depth
                if depth == MAX_DEPTH + 1 and deep_field is None:
                    deep_field = field
        elif first in "]}":
            if not stack:
                raise ValueError(f"not valid JSON at character {pos - 1}")
            stack.pop()
            depth -= 1
            if depth == 0:
                return pos, max_depth, deep_field, long_field
        elif first == '"':
            last_string = token
        elif first == ":":
            if depth == 1 and stack == ["{"] and last_string is not None:
                try:
                    field = json.loads(last_string)
                except ValueError:
                    field = None
        elif first in "-0123456789" and long_field is None:
            is_integer = not any(c in token for c in ".eE")
            if is_integer and len(token.lstrip("-")) > limit:
                long_field = field or ""
        if depth == 0 and first not in "]}":
            return pos, max_depth, deep_field, long_field  # a scalar
    return None, max_depth, deep_field, long_field


def _hostile(text: str, pos: int = 0) -> tuple[int | None, _Hostile | None]:
    """Why a JSON value json could not (or should not) be parsed; (end, None) if nothing found."""
    end, depth, deep_field, long_field = _scan(text, pos)
    if depth > MAX_DEPTH:
        return end, _Hostile(f"nested more than {MAX_DEPTH} levels deep", deep_field, json=True)
    if long_field is not None:
        limit = sys.get_int_max_str_digits()
        reason = f"holds an integer of more than {limit:,} digits"
        return end, _Hostile(reason, long_field, json=True)
    return end, None


def _too_deep(text: str, start: int, end: int) -> bool:
    """Cheap test first: a value with no more brackets than MAX_DEPTH cannot be too deep."""
    brackets = text.count("[", start, end) + text.count("{", start, end)
    return brackets > MAX_DEPTH and _scan(text, start)[1] > MAX_DEPTH


class _TextStream:
    """UTF-8 text read in chunks from a binary stream, with a sliding buffer."""

    def __init__(self, binary: IO[bytes], source: str, head: bytes = b"") -> None:
        self._binary = binary
        self._source = source
        self._head = head
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self._bytes_read = 0
        self.buffer = ""
        self.pos = 0
        self.eof = False
        self.consumed_chars = 0

    def _read(self) -> bytes:
        if self._head:
            raw, self._head = self._head, b""
            return raw
        return self._binary.read(CHUNK_CHARS)

    def fill(self) -> bool:
        """Append the next chunk to the buffer; False at end of file."""
        if self.eof:
            return False
        raw = self._read()
        pending = len(self._decoder.getstate()[0])
        try:
            text = self._decoder.decode(raw, final=not raw)
        except UnicodeDecodeError as err:
            offset = self._bytes_read - pending + err.start
            raise UnreadableFile(
                self._source, f"not UTF-8 text (invalid byte at byte offset {offset})"
            ) from None
        self._bytes_read += len(raw)
        if not raw:
            self.eof = True
        if self.pos > CHUNK_CHARS:
            self.consumed_chars += self.pos
            self.buffer = self.buffer[self.pos :]
            self.pos = 0
        self.buffer += text
        return bool(raw) or bool(text)

    def skip_whitespace(self) -> str:
        """Move past white space; return the next character or '' at end of file."""
        while True:
            while self.pos < len(self.buffer) and self.buffer[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.buffer):
                return self.buffer[self.pos]
            if not self.fill():
                return ""

    def offset(self) -> int:
        return self.consumed_chars + self.pos

    def drop_read(self) -> None:
        """Forget the buffer up to ``pos`` (what a skip has moved past)."""
        self.consumed_chars += self.pos
        self.buffer = self.buffer[self.pos :]
        self.pos = 0


# Outside a string, what changes an element's depth or ends it; inside one, what may end it.
_STRUCTURE = re.compile(r'["\[\]{},]')
_STRING_STOP = re.compile(r'["\\]')


def _skip_element(stream: _TextStream, source: str) -> _Hostile | None:  # noqa: C901  one loop
    """Move past the element at ``stream.pos`` without parsing or holding it: brackets and
    strings are followed a chunk at a time, each chunk dropped once scanned.

    The element is not checked as JSON (the array's own syntax is, after it). None when it ends
    within MAX_RECORD_CHARS after all: it is short and not valid JSON.
    """
    depth = 0
    in_string = escaped = False
    pos = stream.pos
    first = stream.offset()
    while True:
        buffer = stream.buffer
        while pos < len(buffer):
            if escaped:
                pos, escaped = pos + 1, False
                continue
            if in_string:
                match = _STRING_STOP.search(buffer, pos)
                if match is None:
                    pos = len(buffer)
                    break
                pos = match.end()
                if match.group() == "\\":
                    escaped = True
                    continue
                in_string = False
                if depth == 0:  # the element was a string
                    stream.pos = pos
                    return _too_long_element(stream, first)
                continue
            match = _STRUCTURE.search(buffer, pos)
            if match is None:
                pos = len(buffer)
                break
            char = match.group()
            if char in ",]}" and depth == 0:  # a scalar element ends where the array goes on
                stream.pos = match.start()
                return _too_long_element(stream, first)
            pos = match.end()
            if char == '"':
                in_string = True
            elif char in "[{":
                depth += 1
            elif char in "]}":
                depth -= 1
                if depth == 0:
                    stream.pos = pos
                    return _too_long_element(stream, first)
        stream.pos = pos
        stream.drop_read()
        pos = 0
        if not stream.fill():
            raise UnreadableFile(source, "not valid JSON: the array is not closed")


def _too_long_element(stream: _TextStream, first: int) -> _Hostile | None:
    if stream.offset() - first <= MAX_RECORD_CHARS:
        return None
    return _Hostile(f"the record is longer than {MAX_RECORD_CHARS:,} characters")


def _cut_or_too_long(stream: _TextStream, source: str, start: int, at: int) -> _Hostile | None:
    """After json failed at ``at``: None once the element, cut by the chunk boundary, has more
    text to be tried with; the element's rejection when it is longer than a record may be (it is
    skipped unread); else the file is not valid JSON."""
    at += stream.consumed_chars
    if not stream.eof and len(stream.buffer) - start > MAX_RECORD_CHARS:
        if (skipped := _skip_element(stream, source)) is not None:
            return skipped
    elif not stream.eof and stream.fill():
        return None
    raise UnreadableFile(source, f"not valid JSON at character {at}") from None


def _unparsable_element(stream: _TextStream, source: str, start: int) -> _Hostile | None:
    """An element json refused (too deep for its parser, or an integer of more than 4,300
    digits) as its rejection, its end found without recursion; None when it (or its last
    number) is cut by the chunk boundary and more text is to be read first."""
    try:
        scan_end, problem = _hostile(stream.buffer, start)
    except ValueError:
        raise UnreadableFile(source, f"not valid JSON after character {stream.offset()}") from None
    if scan_end in (None, len(stream.buffer)) and not stream.eof:
        if len(stream.buffer) - start > MAX_RECORD_CHARS:
            return _skip_element(stream, source) or _Hostile("could not be read as JSON")
        if stream.fill():
            return None
    if scan_end is None:
        raise UnreadableFile(source, "not valid JSON: the array is not closed")
    stream.pos = scan_end
    return problem or _Hostile("could not be read as JSON")


def _array_element(stream: _TextStream, source: str) -> Any:
    """Parse the element at ``stream.pos`` and move past it; a hostile element comes back as a
    :class:`_Hostile` (skipped whole, so the elements after it are still read)."""
    while True:
        start = stream.pos
        try:
            value, end = _DECODER.raw_decode(stream.buffer, start)
        except json.JSONDecodeError as err:
            if (skipped := _cut_or_too_long(stream, source, start, err.pos)) is None:
                continue
            return skipped
        except (RecursionError, ValueError):
            if (unread := _unparsable_element(stream, source, start)) is None:
                continue
            return unread
        # A number at the very end of the buffer may continue in the next chunk.
        if end == len(stream.buffer) and not stream.eof:
            if len(stream.buffer) - start > MAX_RECORD_CHARS:
                return _skip_element(stream, source) or _Hostile("could not be read as JSON")
            if stream.fill():
                continue
        stream.pos = end
        if _too_deep(stream.buffer, start, end):
            return _hostile(stream.buffer, start)[1]
        return value


def _iter_json_array(stream: _TextStream, source: str) -> Iterator[Any]:
    """Yield each element of a top-level JSON array without holding the array in memory."""
    stream.pos += 1  # the opening '['
    expect_value = True
    first = True
    while True:
        char = stream.skip_whitespace()
        if char == "":
            raise UnreadableFile(source, "not valid JSON: the array is not closed")
        if char == "]" and (first or not expect_value):
            stream.pos += 1
            if stream.skip_whitespace() != "":
                raise UnreadableFile(
                    source, f"not valid JSON: data after the array at character {stream.offset()}"
                )
            return
        if not expect_value:
            if char != ",":
                raise UnreadableFile(
                    source, f"not valid JSON: expected ',' or ']' at character {stream.offset()}"
                )
            stream.pos += 1
            expect_value = True
            continue
        value = _array_element(stream, source)
        first = False
        expect_value = False
        yield value


_NOT_JSON = object()


def _iter_line_blocks(
    head: bytes, binary: IO[bytes], chunk_bytes: int
) -> Iterator[tuple[int, int, list[bytes | None], bytes]]:
    """Yield (number of the first line, its byte offset, the lines, their bytes) for each run
    of whole lines read: a chunk's worth, so that a caller can parse them together.

    Blank lines are numbered and kept (the caller skips them). A line found over
    MAX_LINE_BYTES before its end is read comes alone as ``[None]`` with no bytes, reported
    once, and the rest of it is skipped without being held in memory.
    """
    number, offset = 1, 0  # the next line's number and byte offset
    if head.startswith(_UTF8_BOM):
        head, offset = head[len(_UTF8_BOM) :], len(_UTF8_BOM)
    pending = head
    skipping = False  # inside a line already reported as too long
    while True:
        chunk = binary.read(chunk_bytes)
        if not chunk and (skipping or not pending):
            return
        data = pending + chunk
        cut = data.rfind(b"\n") if chunk else len(data)
        if cut < 0:  # no line ends in what is held
            pending = b""
            if not skipping and len(data) > MAX_LINE_BYTES:
                yield number, offset, [None], b""
                number += 1
                skipping = True
            if skipping:
                offset += len(data)
            else:
                pending = data
            continue
        block, pending = data[:cut], data[cut + 1 :]
        if skipping:  # the rest of the line reported as too long
            skipping = False
            rest = block.find(b"\n")
            if rest < 0:
                offset += len(block) + 1
                continue
            offset += rest + 1
            block = block[rest + 1 :]
        lines: list[bytes | None] = list(block.split(b"\n"))
        yield number, offset, lines, block
        number += len(lines)
        offset += len(block) + 1


# A faster JSON parser (orjson on the workstation; the Lambdas pass none): bytes -> value,
# raising ValueError on anything it does not read.
Loads = Callable[[bytes], Any]
_BIG_FLOAT = float(1 << 63)
_SPACE_AFTER_QUOTE = re.compile(rb'"[ \t\r]')  # one pass, not three substring searches
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _quick_values(raws: list[bytes], joined: bytes, loads: Loads) -> list[dict[str, Any]] | None:
    """``raws`` (lines of JSON, ``joined`` their bytes with anything between them but ``"`` and
    ``:``) read by ``loads`` when that provably gives what the checked path gives.

    None sends the lines down the checked path, which keeps every guarantee. Every parsed line
    must be an object whose values are all scalars; a nested object or array written could only
    be missing from it if a later repeat of its key replaced it, and each proof below leaves no
    room for a repeated key (json keeps the last silently), so the lines are flat as written
    (never too deep). The proofs, over all lines at once, in C:

    - quotes: every key and string value written is one string token of two ``"``, and an
      escaped ``\\"`` adds one, so the ``"`` count is at least twice the keys and string values
      written, which are at least those the parsed objects hold; equality leaves no room for a
      repeated key (nor for an escaped quote, which only costs the quick path);
    - or, with no white space after a quote anywhere: every key ends in ``":``, so there are at
      least as many ``":`` as keys written; equality with the parsed key count again leaves no
      room for a repeat (a ``":`` inside a string only sends the lines down the checked path).

    ``loads`` must reject lone surrogates and invalid UTF-8 as orjson does; orjson reads an
    integer beyond 64 bits as a float where json keeps the int, so such floats go back too.
    """
    try:
        values = list(map(loads, raws))
    except ValueError:
        return None
    if set(map(type, values)) != {dict}:
        return None
    kinds = list(map(type, chain.from_iterable(map(dict.values, values))))
    present = set(kinds)
    if not present <= _SCALARS or (float in present and _big_floats(values)):
        return None
    keys = len(kinds)
    if joined.count(b'"') == 2 * (keys + kinds.count(str)):
        return values
    if _SPACE_AFTER_QUOTE.search(joined) is None and joined.count(b'":') == keys:
        return values
    return None


def _big_floats(values: list[dict[str, Any]]) -> bool:
    """Whether a flat object holds a float that may be an integer json keeps exact."""
    return any(
        type(v) is float and not -_BIG_FLOAT < v < _BIG_FLOAT for d in values for v in d.values()
    )


def _parse_line(raw: bytes | None, offset: int, loads: Loads | None = None) -> Any:
    """One JSON Lines line as a value, ``_NOT_JSON``, or a :class:`_Hostile` record."""
    if raw is None:
        return _Hostile(f"the line is longer than {MAX_LINE_BYTES:,} bytes")
    if loads is not None and (quick := _quick_values([raw], raw, loads)) is not None:
        return quick[0]
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return _Hostile(f"not UTF-8 text (invalid byte at byte offset {offset + err.start})")
    if not line.strip():
        return None
    try:
        value = _DECODER.decode(line)
    except json.JSONDecodeError:
        return _NOT_JSON
    except (RecursionError, ValueError):  # too deep, or an integer json refuses to read
        try:
            problem = _hostile(line)[1]
        except ValueError:
            return _NOT_JSON
        return problem or _NOT_JSON
    if _too_deep(line, 0, len(line)):
        return _hostile(line)[1]
    return value


def _iter_json_line_batches(
    head: bytes, binary: IO[bytes], loads: Loads | None, chunk_bytes: int
) -> Iterator[list[tuple[int, Any]]]:
    """Yield, per block of lines, (line number, parsed value, ``_NOT_JSON`` or ``_Hostile``) of
    its non-blank lines.

    Lines are split as bytes and decoded one by one, so an invalid UTF-8 byte costs only its own
    line (named with its byte offset in the file), not the file. With ``loads`` a block's lines
    are read in one pass when :func:`_quick_values` proves that gives what the checked path
    gives; blocks are then small (QUICK_CHUNK_BYTES), so the memory one block's records take is
    reused by the next instead of the whole file's being touched at once.
    """
    for first, offset, lines, block in _iter_line_blocks(head, binary, chunk_bytes):
        if loads is not None and block and len(block) <= MAX_LINE_BYTES:
            values = _quick_values(list(filter(None, lines)), block, loads)
            if values is not None:
                yield list(zip(compress(count(first), lines), values, strict=True))
                continue
        batch = []
        for number, line in enumerate(lines, start=first):
            raw = line if line is None or len(line) <= MAX_LINE_BYTES else None
            value = _parse_line(raw, offset, loads)
            if value is not None:
                batch.append((number, value))
            if line is not None:
                offset += len(line) + 1
        yield batch


def _sniff(binary: IO[bytes], source: str, chunk_bytes: int) -> tuple[bytes, str]:
    """Read up to the first non-blank byte: (bytes read so far, that byte as text or '')."""
    head = b""
    while True:
        chunk = binary.read(max(chunk_bytes, 16))  # a BOM or magic number whole
        head += chunk
        for magic, name in _MAGIC:
            if head.startswith(magic):
                raise UnreadableFile(
                    source,
                    f"a {name}-compressed file, not JSON: upload the uncompressed JSON or "
                    "JSON Lines file",
                )
        if any(head.startswith(bom) for bom in _UTF16_32_BOMS):
            raise UnreadableFile(source, "UTF-16 or UTF-32 text, not UTF-8: save it as UTF-8")
        body = head[len(_UTF8_BOM) :] if head.startswith(_UTF8_BOM) else head
        stripped = body.lstrip(b" \t\r\n")
        if stripped:
            return head, chr(stripped[0]) if stripped[0] < 128 else "\ufffd"
        if not chunk:
            return head, ""


def iter_raw_record_batches(
    binary: IO[bytes], source: str, loads: Loads | None = None
) -> Iterator[tuple[str, list[tuple[int, Any]]]]:
    """Yield (format, records) for each batch of (position, raw value) of a JSON array or JSON
    Lines file: what :func:`iter_raw_records` yields, a block of lines (or ARRAY_BATCH array
    elements) at a time, for callers that check records a column at a time.
    """
    chunk_bytes = CHUNK_CHARS if loads is None else QUICK_CHUNK_BYTES
    head, first = _sniff(binary, source, chunk_bytes)
    if first == "":
        raise NoRecords(source, "empty file (no records)")
    if first == "[":
        stream = _TextStream(binary, source, head)
        stream.skip_whitespace()
        batch: list[tuple[int, Any]] = []
        elements = 0
        for elements, value in enumerate(_iter_json_array(stream, source), start=1):
            batch.append((elements, value))
            if len(batch) == ARRAY_BATCH:
                yield "json", batch
                batch = []
        if batch:
            yield "json", batch
        if not elements:
            raise NoRecords(source, "no records (an empty JSON array)")
        return
    yield from _json_lines(head, binary, source, loads, chunk_bytes, first)


def _is_object_line(value: Any) -> bool:
    """A line that shows the file is JSON Lines: an object, or JSON too deep or long to read."""
    return isinstance(value, dict) or (isinstance(value, _Hostile) and value.json)


def _json_lines(
    head: bytes, binary: IO[bytes], source: str, loads: Loads | None, chunk_bytes: int, first: str
) -> Iterator[tuple[str, list[tuple[int, Any]]]]:
    """The batches of a JSON Lines file: a line that is not JSON is that line's rejection, the
    first line included, once some line has shown the file is JSON Lines (an object); a file
    without such a line among its first MAX_LEADING_NON_OBJECTS is not JSON at all."""
    waiting: list[tuple[int, Any]] = []  # lines before the first object, if any
    recognised = False
    for batch in _iter_json_line_batches(head, binary, loads, chunk_bytes):
        if not recognised:
            if not any(_is_object_line(value) for _, value in batch):
                waiting += batch
                if len(waiting) <= MAX_LEADING_NON_OBJECTS:
                    continue
                raise UnreadableFile(source, _not_json_lines(first, waiting))
            recognised = True
            batch, waiting = waiting + batch, []
        yield "jsonl", batch
    if not recognised:
        raise UnreadableFile(source, _not_json_lines(first, waiting))


def _not_json_lines(first: str, lines: list[tuple[int, Any]]) -> str:
    if first == "{" and lines:
        return f"not valid JSON on line {lines[0][0]} (and no line is a JSON object)"
    return "not JSON: expected a JSON array or JSON Lines of objects"


def iter_raw_records(
    binary: IO[bytes], source: str, loads: Loads | None = None
) -> Iterator[tuple[int, Any, str]]:
    """Yield (position, raw value, format) for each record of a JSON array or JSON Lines file.

    ``loads`` (e.g. ``orjson.loads``, workstation only) reads well-formed JSON Lines records
    faster; any line it might read differently goes through the checked path (see
    :func:`_quick_values`), so the values and rejections are the same either way.

    The position is the 1-based element index in an array and the line number in JSON Lines.
    A JSON Lines line that is not JSON is yielded as ``_NOT_JSON`` and a record that cannot be
    read safely (too deep, an integer too long, invalid UTF-8, a line too long) as a
    ``_Hostile``, so each becomes that record's rejection, the first line's too; a file none of
    whose first lines is a JSON object is unreadable, and one with no record raises
    :class:`NoRecords`.
    """
    for file_format, batch in iter_raw_record_batches(binary, source, loads):
        for position, value in batch:
            yield position, value, file_format
