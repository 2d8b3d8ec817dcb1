"""An upload handler that hashes each file while Django writes it to disk.

Every uploaded file goes to a temporary file next to the blob storage (``blobs.incoming_dir``), and
its SHA-256 is computed on the way in. The blob store then links that file into place instead of
reading and copying it again. The file also keeps the name the client sent (``relative_path``):
the model API's parser passes it through unsanitized so that folders survive; the service validates
it before using it as a path.
"""

from __future__ import annotations

import hashlib
import html
import os
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor

from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http.multipartparser import MultiPartParser

from hub.services import blobs


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


class HashingFileUploadHandler(FileUploadHandler):
    """Hashes and writes each chunk in a second thread while Django parses the next one.

    Both hashlib and file writes release the GIL, so parsing overlaps with them; at most one chunk
    waits, which keeps memory constant.
    """

    chunk_size = blobs.CHUNK_SIZE

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.digest = hashlib.sha256()
        self.file = HashedUploadedFile(
            self.file_name, self.content_type, self.charset, self.content_type_extra
        )
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload")
        self.pending: Future | None = None

    def _absorb(self, chunk: bytes) -> None:
        self.digest.update(chunk)
        self.file.write(chunk)

    def _wait(self) -> None:
        if self.pending is not None:
            self.pending.result()  # raises what the writer raised
            self.pending = None

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self._wait()
        self.pending = self.writer.submit(self._absorb, raw_data)

    def file_complete(self, file_size: int) -> HashedUploadedFile:
        try:
            self._wait()
        finally:
            self.writer.shutdown()
        self.file.flush()
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
