"""Stored files: safe names for strings we did not choose, private downloads, no orphans.

Uploaded and generated files (EPOD evidence and PDFs, order exports) are never served from
`MEDIA_URL`: a view checks who asks, then `stored_file_response` answers from the storage API: it
streams the file from the local disk, or redirects to a short-lived signed link of the S3-compatible
bucket (`OMS_STORAGE=s3`), so that no web host carries the bytes and no view needs to know which.
ERP tickets, order numbers and other outside strings become file names only through `safe_name`, so
`../../etc/passwd` or a NUL can never become a path segment.

A file is saved before the row that names it (the row must never point at nothing), so a transaction
that rolls back would leave the file behind: `atomic_with_files` deletes the files saved inside it
(`saved_in_transaction`) when it rolls back.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.core.files.storage import Storage, default_storage
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.utils.http import content_disposition_header

logger = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
PRIVATE_NO_STORE = "private, no-store"


def safe_name(text: str, *, fallback: str = "file", max_length: int = 40) -> str:
    """`text` as one file-name part: ASCII letters, digits, `-` and `_` only, never empty or a path.

    Everything else (slashes, dots, NUL, spaces, non-ASCII) collapses into `-`; callers add their
    own id where names must be unique, since two tickets may slug to the same text.
    """
    slug = _UNSAFE.sub("-", text or "").strip("-_")[:max_length].strip("-_")
    return slug or fallback


def signs_urls(storage: Storage) -> bool:
    """Whether `storage` hands out presigned links (the S3 backend) instead of serving bytes itself."""
    return bool(getattr(storage, "querystring_auth", False)) and hasattr(storage, "bucket_name")


def stored_file_response(
    name: str, *, filename: str, content_type: str, storage: Storage | None = None
) -> HttpResponse:
    """The stored file `name` as a private attachment; 404 when it is not (or no longer) stored.

    Call it only after the view has checked who asks. Local disk: the bytes, streamed. A bucket:
    `302` to a presigned GET valid `OMS_S3_SIGNED_URL_SECONDS`, which makes the object store answer
    with our file name and type (`ResponseContentDisposition`, `ResponseContentType`), whatever the
    object's own metadata says. Either way `Cache-Control: private, no-store` keeps delivery notes,
    exports and the (bearer) link out of shared and browser caches, and `nosniff` stops a browser
    from guessing another type than the one we send.
    """
    storage = storage or default_storage
    if not name:
        raise Http404
    if signs_urls(storage):
        response = _signed_redirect(storage, name, filename=filename, content_type=content_type)
    else:
        try:
            handle = storage.open(name, "rb")
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise Http404 from exc
        response = FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)
    response["Cache-Control"] = PRIVATE_NO_STORE
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _signed_redirect(storage: Storage, name: str, *, filename: str, content_type: str) -> HttpResponse:
    if not storage.exists(name):  # a link to nothing would be the bucket's 404 page, not ours
        raise Http404
    url = storage.url(
        name,
        parameters={
            "ResponseContentDisposition": content_disposition_header(as_attachment=True, filename=filename),
            "ResponseContentType": content_type,
        },
        expire=settings.OMS_S3_SIGNED_URL_SECONDS,
    )
    response = HttpResponseRedirect(url)
    response["Referrer-Policy"] = "no-referrer"
    return response


# --- files saved inside a transaction ----------------------------------------------------------

_saved: ContextVar[list[tuple[Storage, str]] | None] = ContextVar("oms_files_saved", default=None)


def saved_in_transaction(storage: Storage, name: str) -> None:
    """Note that `name` was just saved for rows of the current `atomic_with_files` block.

    Outside such a block this does nothing: the caller owns the transaction and its files.
    """
    saved = _saved.get()
    if saved is not None and name:
        saved.append((storage, name))


@contextmanager
def atomic_with_files() -> Iterator[None]:
    """`transaction.atomic()` that also deletes the files saved inside it when it rolls back.

    Blocks nest like `atomic`: an inner block that fails deletes its own files (its savepoint is
    rolled back); the files of one that succeeds are deleted if an enclosing block fails later.
    """
    saved = _saved.get()
    token = None
    if saved is None:
        saved = []
        token = _saved.set(saved)
    start = len(saved)
    try:
        with transaction.atomic():
            yield
    except BaseException:
        _delete_quietly(saved[start:])
        del saved[start:]
        raise
    finally:
        if token is not None:
            _saved.reset(token)


def _delete_quietly(files: list[tuple[Storage, str]]) -> None:
    """Delete files of a rolled-back transaction; a failure is logged, never hides the first error."""
    for storage, name in reversed(files):
        try:
            storage.delete(name)
        except Exception:
            logger.exception("could not delete %s after a rollback; it is an orphan now", name)
