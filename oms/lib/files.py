"""Stored files: safe names for strings we did not choose, and private downloads through the storage.

Uploaded and generated files (EPOD evidence and PDFs, order exports) are never served from
`MEDIA_URL`: a view checks who asks, then `stored_file_response` streams the file from the storage
API. ERP tickets, order numbers and other outside strings become file names only through
`safe_name`, so `../../etc/passwd` or a NUL can never become a path segment.
"""

from __future__ import annotations

import re

from django.core.files.storage import Storage, default_storage
from django.http import FileResponse, Http404

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
PRIVATE_NO_STORE = "private, no-store"


def safe_name(text: str, *, fallback: str = "file", max_length: int = 40) -> str:
    """`text` as one file-name part: ASCII letters, digits, `-` and `_` only, never empty or a path.

    Everything else (slashes, dots, NUL, spaces, non-ASCII) collapses into `-`; callers add their
    own id where names must be unique, since two tickets may slug to the same text.
    """
    slug = _UNSAFE.sub("-", text or "").strip("-_")[:max_length].strip("-_")
    return slug or fallback


def stored_file_response(
    name: str, *, filename: str, content_type: str, storage: Storage | None = None
) -> FileResponse:
    """The stored file `name` as a private attachment; 404 when it is not (or no longer) stored.

    `Cache-Control: private, no-store` keeps delivery notes and exports out of shared and browser
    caches; `nosniff` stops a browser from guessing another type than the one we send.
    """
    storage = storage or default_storage
    if not name:
        raise Http404
    try:
        handle = storage.open(name, "rb")
    except (FileNotFoundError, IsADirectoryError) as exc:
        raise Http404 from exc
    response = FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)
    response["Cache-Control"] = PRIVATE_NO_STORE
    response["X-Content-Type-Options"] = "nosniff"
    return response
