"""An upload handler that hashes each file while Django writes it to disk.

Every uploaded file goes to a temporary file next to the blob storage (``blobs.incoming_dir``), and
its SHA-256 is computed on the way in. The blob store then links that file into place instead of
reading and copying it again. The file also keeps the name the client sent (``relative_path``):
the model API's parser passes it through unsanitized so that folders survive; the service validates
it before using it as a path.

A multipart body must be as long as its Content-Length says: one that ends early (a client that
declared 10 GB and sent a few bytes, or a connection cut mid-file) is refused as a malformed request
instead of being parsed as if what arrived were complete.

When a signed-in user's checkpoint starts to arrive, the process that will validate it is started
(hub.checkpoint_files.warm_up_inspector), so that its imports overlap the transfer.
"""

from __future__ import annotations

import hashlib
import html
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http.multipartparser import MultiPartParser, MultiPartParserError

from hub.checkpoint_files import warm_up_inspector
from hub.services import blobs

# The multipart fields that carry a model checkpoint (the model API and the upload page).
CHECKPOINT_FIELDS = {"files", "archive"}


class HashedUploadedFile(TemporaryUploadedFile):
    def __init__(self, name: str, content_type: str, charset: str | None, content_type_extra: dict | None):
        # The suffix is fixed: the client's name never reaches the filesystem.
        # Closed (and so deleted) with the request, like Django's own temporary uploads.
        file = tempfile.NamedTemporaryFile(suffix=".upload", dir=blobs.incoming_dir())  # noqa: SIM115
        # Django keeps only the last part as ``name``; the service validates ``relative_path`` itself.
        display = os.path.basename(name) if os.path.basename(name) not in ("", ".", "..") else "upload"
        UploadedFile.__init__(self, file, display, content_type, 0, charset, content_type_extra)
        self.relative_path = name
        self.sha256: str | None = None


class DeclaredLengthStream:
    """Reads a request body and fails when it ends before its declared length."""

    def __init__(self, stream, declared_length: int, on_short_body: Callable[[], None]):
        self.stream, self.declared_length = stream, declared_length
        self.on_short_body = on_short_body
        self.received = 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.received += len(data)
        if not data and size != 0 and self.received < self.declared_length:
            self.on_short_body()
            # Django answers a MultiPartParserError with a 400 (and DRF with a ParseError).
            raise MultiPartParserError(
                f"the request body ended after {self.received} bytes; its Content-Length declared "
                f"{self.declared_length}"
            )
        return data

    def readline(self, size: int = -1) -> bytes:
        return self.stream.readline(size)


class HashingFileUploadHandler(FileUploadHandler):
    """Hashes and writes each chunk, in two threads of their own, while Django parses the next one.

    hashlib and file writes both release the GIL, so parsing, hashing and writing overlap where
    cores allow (for a large file each costs about as much as the others); at most one chunk waits,
    which keeps memory constant. Chunks of 1 MiB match the largest read gunicorn makes from a socket.
    """

    chunk_size = blobs.CHUNK_SIZE

    def __init__(self, request=None):
        super().__init__(request)
        self.made: list[HashedUploadedFile] = []  # this request's files

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None) -> None:
        # The parser reads the body through the request, which reads its ``_stream``.
        stream = getattr(input_data, "_stream", None)
        self.received_files: list[HashedUploadedFile] = []
        if stream is not None and not isinstance(stream, DeclaredLengthStream) and content_length:
            input_data._stream = DeclaredLengthStream(stream, content_length, self._discard_files)

    def _discard_files(self) -> None:
        """Delete the files of a refused body now, not when the request is garbage-collected."""
        if hasattr(self, "writer"):
            self.writer.shutdown(wait=True, cancel_futures=True)  # no write into a closed file
        for file in getattr(self, "received_files", ()):
            file.close()

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        if self.field_name in CHECKPOINT_FIELDS and not self.made and self._by_signed_in_user():
            # A checkpoint is arriving: its validation process imports transformers during the transfer.
            warm_up_inspector()
        self.digest = hashlib.sha256()
        self.file = HashedUploadedFile(
            self.file_name, self.content_type, self.charset, self.content_type_extra
        )
        if hasattr(self, "received_files"):
            self.received_files.append(self.file)
        self.made.append(self.file)
        self.writer = ThreadPoolExecutor(max_workers=2, thread_name_prefix="upload")
        self.pending: list[Future] = []

    def _by_signed_in_user(self) -> bool:
        user = getattr(self.request, "user", None)
        return bool(user is not None and user.is_authenticated)

    def _wait(self) -> None:
        pending, self.pending = self.pending, []
        try:
            for future in pending:
                future.result()  # raises what the writer raised
        except BaseException:
            self._discard()
            raise

    def _discard(self) -> None:
        """After a refused write (a full disk), delete this request's files now, not when collected."""
        self.writer.shutdown(wait=True, cancel_futures=True)
        for made in self.made:
            made.close()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self._wait()
        self.pending = [
            self.writer.submit(self.digest.update, raw_data),
            self.writer.submit(self.file.write, raw_data),
        ]

    def file_complete(self, file_size: int) -> HashedUploadedFile:
        try:
            self._wait()
        finally:
            self.writer.shutdown()
        try:
            self.file.flush()
        except OSError:
            self._discard()
            raise
        self.file.seek(0)
        self.file.size = file_size
        self.file.sha256 = self.digest.hexdigest()
        return self.file

    def upload_interrupted(self) -> None:
        if hasattr(self, "file"):
            self.writer.shutdown(wait=True, cancel_futures=True)
            self.file.close()


class RelativePathMultiPartParser(MultiPartParser):
    """Keeps the client's file name whole (``config/x.json``) instead of cutting it to its last part."""

    def sanitize_file_name(self, file_name: str) -> str | None:
        return html.unescape(file_name) or None
