"""Release downloads, streamed in constant memory: one file of a release, and its `DatasetDict`
folder as one tar archive whose exact length is known before its first byte is sent.

The archive is written on the fly, member by member: a POSIX (pax) header from `tarfile`, the
file's bytes read in chunks, the padding to 512-byte blocks, and at the end the two empty
blocks and the padding to a 10,240-byte record that `tarfile` writes: the stream is byte for
byte what `tarfile.open(mode="w")` would write (feedback/tests/test_release_downloads.py), with
owners 0 and no user names. Published releases never change, so the sizes read at the start
hold until the end.

Under ASGI (the platform's web server) Django lists a synchronous iterator to its end before
sending anything (`StreamingHttpResponse.__aiter__`), which would hold a whole file, gigabytes
for a big release, in the web process. Responses to ASGI requests therefore get an asynchronous
iterator that reads each chunk in a worker thread; other requests (WSGI, the test client) get
the plain one.
"""

import asyncio
import mimetypes
import tarfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse
from django.utils.http import content_disposition_header

CHUNK_BYTES = 1 << 20
ARCHIVE_FORMAT = tarfile.PAX_FORMAT
DATASET_DICT_FOLDER = "dataset_dict"


def file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            yield chunk


def archive_members(folder: Path, top: str = DATASET_DICT_FOLDER) -> list[tuple[tarfile.TarInfo, Path]]:
    """The entries of `folder / top`, folders before what they hold, with the names they get in
    the archive (`top/...`): folders 0755, files 0644, owner 0, the files' modification times."""
    root = folder / top
    members = []
    for path in sorted([root, *root.rglob("*")]):
        info = tarfile.TarInfo(path.relative_to(folder).as_posix())
        stat = path.stat()
        info.mtime = int(stat.st_mtime)
        if path.is_dir():
            info.type, info.mode = tarfile.DIRTYPE, 0o755
        else:
            info.size, info.mode = stat.st_size, 0o644
        members.append((info, path))
    return members


def _header(info: tarfile.TarInfo) -> bytes:
    return info.tobuf(ARCHIVE_FORMAT, "utf-8", "surrogateescape")


def _padding(size: int, unit: int) -> int:
    return -size % unit


def archive_size(members: list[tuple[tarfile.TarInfo, Path]]) -> int:
    size = sum(len(_header(info)) + info.size + _padding(info.size, tarfile.BLOCKSIZE) for info, _ in members)
    size += 2 * tarfile.BLOCKSIZE
    return size + _padding(size, tarfile.RECORDSIZE)


def archive_chunks(members: list[tuple[tarfile.TarInfo, Path]]) -> Iterator[bytes]:
    written = 0
    for info, path in members:
        header = _header(info)
        yield header
        written += len(header)
        if info.isfile():
            left = info.size
            for chunk in file_chunks(path):
                chunk = chunk[:left]  # a file that grew after its size was read is cut at that size
                yield chunk
                left -= len(chunk)
                if not left:
                    break
            if left:
                raise OSError(f"{path} shrank while it was being sent.")
            padding = _padding(info.size, tarfile.BLOCKSIZE)
            yield b"\0" * padding
            written += info.size + padding
    end = 2 * tarfile.BLOCKSIZE
    yield b"\0" * (end + _padding(written + end, tarfile.RECORDSIZE))


def _nothing() -> Iterator[bytes]:
    yield from ()


async def _read_in_threads(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    try:
        while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
            yield chunk
    finally:
        await asyncio.to_thread(chunks.close)


def streamed_response(
    request: HttpRequest, chunks: Iterator[bytes], *, size: int, filename: str, content_type: str
) -> StreamingHttpResponse:
    """An attachment of `size` bytes, sent chunk by chunk as `chunks` yields them (nothing is
    read for a HEAD request)."""
    if request.method == "HEAD":
        chunks = _nothing()
    is_asgi = isinstance(getattr(request, "_request", request), ASGIRequest)  # a DRF request wraps Django's
    content = _read_in_threads(chunks) if is_asgi else chunks
    response = StreamingHttpResponse(content, content_type=content_type)
    response["Content-Length"] = str(size)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response


def file_response(request: HttpRequest, path: Path, *, filename: str) -> StreamingHttpResponse:
    content_type, encoding = mimetypes.guess_type(filename)
    return streamed_response(
        request,
        file_chunks(path),
        size=path.stat().st_size,
        filename=filename,
        content_type=content_type if content_type and not encoding else "application/octet-stream",
    )


def archive_response(request: HttpRequest, folder: Path, *, filename: str) -> StreamingHttpResponse:
    members = archive_members(folder)
    return streamed_response(
        request,
        archive_chunks(members),
        size=archive_size(members),
        filename=filename,
        content_type="application/x-tar",
    )
