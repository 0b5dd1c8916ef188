"""Uploads refused at their limit while they arrive, never after they were spooled to disk.

Django's default upload handlers write any file above 2.5 MB to a temporary file before a view can
look at its size. For endpoints with small, bounded uploads (EPOD evidence) `cap_uploads` first
refuses a `Content-Length` over the whole body's limit, then replaces the handlers with one that
keeps each file in memory and stops the upload as soon as one file passes its limit.
"""

from __future__ import annotations

from django.core.files.uploadhandler import MemoryFileUploadHandler, StopUpload

from oms.exceptions import TooLarge


class CappedMemoryUploadHandler(MemoryFileUploadHandler):
    """Every file in memory, up to `max_file_bytes` each; one byte more stops the whole upload."""

    def __init__(self, request, *, max_file_bytes: int):
        super().__init__(request)
        self.max_file_bytes = max_file_bytes
        self.too_large = False
        self.received = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.activated = True  # the body's size was checked by `cap_uploads`: never spool to disk

    def new_file(self, *args, **kwargs):
        self.received = 0
        super().new_file(*args, **kwargs)

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.max_file_bytes:
            self.too_large = True
            # Drop what arrived of the file; the parser reads the rest of the (capped) body unused.
            raise StopUpload(connection_reset=False)
        return super().receive_data_chunk(raw_data, start)


def content_length(request) -> int | None:
    """The declared body length, or None when absent or not a number."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


def cap_uploads(request, *, max_body_bytes: int, max_file_bytes: int, detail: str):
    """Refuse a body declared over `max_body_bytes` (413) and cap every file at `max_file_bytes`.

    Call before the body is parsed; returns the handler, whose `too_large` the view checks with
    `check_uploads` after parsing (the parser drops a stopped file silently).
    """
    length = content_length(request)
    if length is not None and length > max_body_bytes:
        raise TooLarge(detail)
    django_request = getattr(request, "_request", request)
    handler = CappedMemoryUploadHandler(django_request, max_file_bytes=max_file_bytes)
    django_request.upload_handlers = [handler]
    return handler


def check_uploads(handler: CappedMemoryUploadHandler, *, detail: str) -> None:
    if handler.too_large:
        raise TooLarge(detail)
