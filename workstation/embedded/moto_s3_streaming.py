"""moto's S3 with big objects kept on disk: multipart assembly and GetObject bodies streamed.

moto spools every object to a temporary file past ``MOTO_S3_DEFAULT_KEY_BUFFER_SIZE`` (5 MB by
default), yet three of its paths hold a whole object in memory (moto 5.2.x), so a 1 GB upload
through the embedded stack peaked at 6.3 GB RSS (issue 10 item 6):

- ``FakeMultipart.complete`` joins every part into a bytearray, copies it to bytes (and, for a
  full-object checksum, joins the parts a third time) before ``put_object`` writes that into the
  new key's spool. ``_complete`` copies the parts chunk by chunk into a fresh spool, computing the
  same ETag (md5 of the part md5s + ``-N``) and checksum incrementally; the new ``FakeKey`` adopts
  that spool (``_set_value``) instead of writing a copy.
- ``S3Response.get_object`` returns ``key.value`` (the whole object as bytes) and moto slices that
  for a Range. For a key spooled to disk, ``_get_object`` returns a ``FileBody`` instead: a view of
  a snapshot of the spool (a duplicated file descriptor, read with ``os.pread``) that supports
  what moto's response path does with a body (``len``, slicing for ranges, truth) and is read in
  chunks by the client: botocore's ``MockRawResponse`` (``mock_aws``) or werkzeug's response
  iterator (the threaded server). Any other caller (e.g. the ``responses`` library's path for
  plain ``requests`` calls) still gets bytes, as ``FileBody`` is only served while a request
  goes through one of those two.

Everything else is moto's own: validation and errors, ETags, checksums, ranges, versions, headers.
Not streamed (the pipeline does not use them): CopyObject / UploadPartCopy (``key.value``), a
single PutObject (the request body is in memory anyway: upload big files with ``upload_file``,
which goes multipart), and key pickling. Pinned with the other moto patches
(``lambda_seam.check_moto_version``: moto>=5.2.3,<6).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from radimpress_workstation.embedded.lambda_seam import check_moto_version
from radimpress_workstation.embedded.patches import CountedPatches

CHUNK = 1 << 20  # bytes copied or served per read


_PATCHES = CountedPatches()
_SERVING = threading.local()  # .streams: the request being served goes to a client that streams


def install() -> None:
    """Patch moto's S3 (nested installs are counted; the last ``uninstall()`` restores moto)."""
    check_moto_version()
    from moto.core import botocore_stubber, utils
    from moto.s3 import models, responses

    stubber, flask_adapter = botocore_stubber.BotocoreStubber, utils.convert_to_flask_response
    raw = botocore_stubber.MockRawResponse
    value = models.FakeKey.value
    _PATCHES.install(
        lambda: [
            (models.FakeMultipart, "complete", _complete),
            (models.FakeKey, "value", property(value.fget, _setter(value.fset))),
            (responses.S3Response, "get_object", _get_object(responses.S3Response.get_object)),
            (botocore_stubber, "MockRawResponse", _raw_response(raw)),
            (stubber, "process_request", _serving(stubber.process_request, _botocore_streams)),
            (flask_adapter, "__call__", _serving(flask_adapter.__call__, lambda *_: True)),
            *[
                (module, "normalize_request", _tracked(module.normalize_request))
                for module in (botocore_stubber, utils)
            ],
        ]
    )


def uninstall() -> None:
    _PATCHES.uninstall()


# ---- CompleteMultipartUpload -----------------------------------------------------------------


class Assembled:
    """An assembled object's spool, handed to ``FakeKey`` as its value (adopted, not copied)."""

    def __init__(self, spool: Any, size: int) -> None:
        self.spool, self.size = spool, size


def _complete(self: Any, body: Iterable[tuple[int, str]]) -> tuple[Any, str, Any]:
    """moto 5.2's ``FakeMultipart.complete`` without joining the parts in memory.

    Same checks in the same order (InvalidPart, EntityTooSmall, MalformedXML), same ETag and
    checksum; the value is an ``Assembled`` spool written one chunk at a time.
    """
    from moto.s3.exceptions import EntityTooSmall, InvalidPart, MalformedXML
    from moto.s3.models import S3_UPLOAD_PART_MIN_SIZE
    from moto.settings import get_s3_default_key_buffer_size

    parts, md5s, last = [], bytearray(), None
    for number, etag in body:
        part = self.parts.get(number)
        part_etag = None
        if part is not None:
            part_etag = part.etag.replace('"', "")
            etag = etag.replace('"', "")
        if part is None or part_etag != etag:
            raise InvalidPart()
        if last is not None and last.contentsize < S3_UPLOAD_PART_MIN_SIZE:
            raise EntityTooSmall()
        md5s.extend(bytes.fromhex(part_etag))
        parts.append(part)
        last = part
    if not parts:
        raise MalformedXML
    checksum = _MultipartChecksum(
        self.metadata.get("x-amz-checksum-algorithm"), self.metadata.get("x-amz-checksum-type")
    )
    spool = tempfile.SpooledTemporaryFile(get_s3_default_key_buffer_size())  # noqa: SIM115
    size = 0
    try:
        for part in parts:
            checksum.start_part()
            for chunk in _chunks(part):
                checksum.update(chunk)
                spool.write(chunk)
                size += len(chunk)
            checksum.end_part()
    except BaseException:
        spool.close()
        raise
    full_etag = hashlib.md5(bytes(md5s), usedforsecurity=False).hexdigest()
    return Assembled(spool, size), f"{full_etag}-{len(parts)}", checksum.build()


def _chunks(key: Any) -> Iterator[bytes]:
    """A FakeKey's value, CHUNK bytes at a time (under the key's lock, as moto reads it)."""
    with key.lock:
        key._value_buffer.seek(0)
        while chunk := key._value_buffer.read(CHUNK):
            yield chunk


def _setter(original: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    """moto's ``FakeKey.value`` setter, which also adopts an ``Assembled`` spool."""

    def set_value(self: Any, new_value: Any) -> None:
        if not isinstance(new_value, Assembled):
            original(self, new_value)
            return
        empty, self._value_buffer = self._value_buffer, new_value.spool
        self.contentsize = new_value.size
        empty.close()

    return set_value


class _RunningChecksum:
    """``moto.s3.utils.compute_checksum`` fed in chunks (same algorithms, same fallbacks)."""

    def __init__(self, algorithm: str) -> None:
        from moto.core.compat import HAS_CRT

        self.algorithm, self.crc, self.width = algorithm, 0, 4
        self.hash: Any = None
        self.crc_update: Callable[[bytes, int], int] = binascii.crc32
        if algorithm == "SHA1":
            self.hash = hashlib.sha1(usedforsecurity=False)
        elif algorithm == "CRC32C":
            try:
                import crc32c

                self.crc_update = crc32c.crc32c
            except ImportError:  # moto falls back to CRC32 (sic)
                pass
        elif algorithm == "CRC64NVME":
            if HAS_CRT:  # else moto falls back to CRC32 (sic)
                from awscrt import checksums

                self.crc_update, self.width = checksums.crc64nvme, 8
        elif algorithm != "CRC32":
            self.hash = hashlib.sha256(usedforsecurity=False)

    def update(self, chunk: bytes) -> None:
        if self.hash is not None:
            self.hash.update(chunk)
        else:
            self.crc = self.crc_update(chunk, self.crc)

    def digest(self) -> bytes:
        if self.hash is not None:
            return bytes(self.hash.digest())
        return self.crc.to_bytes(self.width, "big")


class _MultipartChecksum:
    """moto 5.2's ``MultipartChecksumBuilder`` without holding the object (FULL_OBJECT joined
    every part again): a running checksum over the object, or one per part (COMPOSITE)."""

    def __init__(self, algorithm: str | None, checksum_type: str | None) -> None:
        self.algorithm = algorithm or "CRC64NVME"
        self.type = checksum_type or (
            "FULL_OBJECT" if self.algorithm == "CRC64NVME" else "COMPOSITE"
        )
        self.whole = _RunningChecksum(self.algorithm)
        self.part = self.whole
        self.part_digests = bytearray()
        self.parts = 0

    def start_part(self) -> None:
        if self.type == "COMPOSITE":
            self.part = _RunningChecksum(self.algorithm)

    def update(self, chunk: bytes) -> None:
        self.part.update(chunk)

    def end_part(self) -> None:
        if self.type == "COMPOSITE":
            self.part_digests.extend(self.part.digest())
        self.parts += 1

    def build(self) -> tuple[str, str, int]:
        if self.type == "COMPOSITE":
            combined = _RunningChecksum(self.algorithm)
            combined.update(bytes(self.part_digests))
            return self.type, base64.b64encode(combined.digest()).decode(), self.parts
        return self.type, base64.b64encode(self.whole.digest()).decode(), 1


# ---- GetObject ----------------------------------------------------------------------------


class _Snapshot:
    """A duplicated descriptor of a key's spool file: it stays readable when moto disposes of
    (closes) the key, e.g. on delete or overwrite, as the body S3 already started sending."""

    def __init__(self, key: Any) -> None:
        with key.lock:
            key._value_buffer.flush()  # the spool's buffered writer may hold the last bytes
            self.fd: int | None = os.dup(key._value_buffer.fileno())
            self.size: int = key.size

    def pread(self, size: int, offset: int) -> bytes:
        if self.fd is None:
            raise ValueError("read of a closed S3 body")
        return os.pread(self.fd, size, offset)

    def close(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)

    def __del__(self) -> None:
        self.close()


class FileBody:
    """A byte range of an object spooled to disk, standing where moto's response path expects
    the object's bytes: ``len()``, slicing (``_handle_range_header``) and truth work; iterating
    reads CHUNK bytes at a time (werkzeug streams an iterable response)."""

    def __init__(self, snapshot: _Snapshot, start: int = 0, stop: int | None = None) -> None:
        self.snapshot, self.start = snapshot, start
        self.stop = snapshot.size if stop is None else stop

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __bool__(self) -> bool:
        return len(self) > 0

    def __getitem__(self, index: slice) -> FileBody:
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError("FileBody supports contiguous slices only")
        start, stop, _ = index.indices(len(self))
        return FileBody(self.snapshot, self.start + start, self.start + max(start, stop))

    def read_at(self, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes from ``offset`` (relative to this range)."""
        size = min(size, len(self) - offset)
        return self.snapshot.pread(size, self.start + offset) if size > 0 else b""

    def __iter__(self) -> Iterator[bytes]:
        offset = 0
        while chunk := self.read_at(offset, CHUNK):
            offset += len(chunk)
            yield chunk

    def __bytes__(self) -> bytes:
        return b"".join(self)

    def close(self) -> None:  # werkzeug closes an iterable response when it is sent
        self.snapshot.close()


class _KeyWithFileBody:
    """A FakeKey whose ``value`` is a ``FileBody`` (for ``get_object``'s use only)."""

    def __init__(self, key: Any) -> None:
        self._key = key

    def __getattr__(self, name: str) -> Any:
        return getattr(self._key, name)

    @property
    def value(self) -> Any:
        return FileBody(_Snapshot(self._key))


def _get_object(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """moto's ``S3Response.get_object``, whose key hands out a ``FileBody`` instead of bytes when
    the object is spooled to disk and the request came through a client that can stream it."""

    def get_object(self: Any) -> Any:
        if not getattr(_SERVING, "streams", False):
            return original(self)
        get_key = self._get_key

        def key_with_file_body(*args: Any, **kwargs: Any) -> tuple[Any, bool]:
            key, not_modified = get_key(*args, **kwargs)
            if getattr(key._value_buffer, "_rolled", False):
                key = _KeyWithFileBody(key)
            return key, not_modified

        self._get_key = key_with_file_body  # this request's S3Response only
        try:
            return original(self)
        finally:
            del self._get_key

    return get_object


def _serving(original: Callable[..., Any], streams: Callable[..., bool]) -> Callable[..., Any]:
    """Marks the request served through ``original`` as one whose client reads a ``FileBody``
    when ``streams(*args)``. Saved and restored, as requests nest (a handler's calls are served
    inside the stubbed Lambda invoke that runs it)."""

    def serve(*args: Any, **kwargs: Any) -> Any:
        outer = getattr(_SERVING, "streams", False), getattr(_SERVING, "requests", None)
        _SERVING.streams, _SERVING.requests = streams(*args), []
        try:
            return original(*args, **kwargs)
        finally:
            for request in _SERVING.requests:  # served: let reference counting free it
                request.environ.pop("werkzeug.request", None)
            _SERVING.streams, _SERVING.requests = outer

    return serve


def _tracked(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """moto's ``normalize_request``, noting the request so ``_serving`` can break its cycle.

    werkzeug's ``Request`` points at itself (``environ["werkzeug.request"]``), so every request
    moto serves, and the body it holds two or three times over, lives until the cyclic GC's
    oldest generation runs: 8 MB parts of a 200 MB upload held 300+ MB until the upload ended.
    """

    def normalize_request(request: Any) -> Any:
        normalized = original(request)
        served = getattr(_SERVING, "requests", None)
        if served is not None and normalized is not request:
            served.append(normalized)
        return normalized

    return normalize_request


def _botocore_streams(stubber: Any, request: Any, *_: Any) -> bool:
    """``BotocoreStubber.process_request`` serves botocore (``__call__``, whose body goes to our
    ``MockRawResponse``) and the ``responses`` library (``process_prepared_request``, bytes
    only, always ``stream_output=False``); botocore marks streaming operations (GetObject)."""
    return bool(getattr(request, "stream_output", False))


class StreamingRaw:
    """botocore's raw response stream over a ``FileBody`` (moto's ``MockRawResponse`` is a
    BytesIO of the whole body): ``read(amt)`` and ``stream()`` as botocore uses them."""

    def __init__(self, body: FileBody) -> None:
        self.body, self.offset = body, 0

    def read(self, amt: int | None = None) -> bytes:
        if amt is None or amt < 0:
            data = self.body.read_at(self.offset, len(self.body) - self.offset)
        else:
            data = self.body.read_at(self.offset, amt)
        self.offset += len(data)
        return data

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        while chunk := self.read(CHUNK):
            yield chunk

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.body.close()


def _raw_response(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def raw_response(body: Any) -> Any:
        return StreamingRaw(body) if isinstance(body, FileBody) else original(body)

    return raw_response
