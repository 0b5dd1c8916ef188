"""Uploaded EPOD evidence: images checked by their content (Pillow), never by name or header."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_PHOTOS = 5
# 40 megapixels: larger than any phone camera, small enough to stop decompression bombs.
MAX_PIXELS = 40_000_000
NOT_AN_IMAGE = "Not a valid {formats} image."
TOO_LARGE = "The file is larger than 5 MB."
TOO_MANY_PHOTOS = "At most 5 photos."

_EXTENSIONS = {"PNG": "png", "JPEG": "jpg"}
_CONTENT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg"}


@dataclass(frozen=True)
class Evidence:
    content: bytes
    format: str
    sha256: str

    @property
    def extension(self) -> str:
        return _EXTENSIONS[self.format]

    @property
    def content_type(self) -> str:
        return _CONTENT_TYPES[self.format]


class EvidenceError(ValueError):
    pass


def read_image(upload, *, formats: frozenset[str]) -> Evidence:
    """Read an uploaded file and check it is a real image of one of `formats`, ≤ 5 MB."""
    size = getattr(upload, "size", None)
    if size is not None and size > MAX_IMAGE_BYTES:
        raise EvidenceError(TOO_LARGE)
    content = upload.read(MAX_IMAGE_BYTES + 1)
    if len(content) > MAX_IMAGE_BYTES:
        raise EvidenceError(TOO_LARGE)
    message = NOT_AN_IMAGE.format(formats="/".join(sorted(formats)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as image:
                if image.format not in formats:
                    raise EvidenceError(message)
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise EvidenceError(message)
                image.verify()
    except EvidenceError:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise EvidenceError(message) from exc
    return Evidence(content=content, format=image.format, sha256=hashlib.sha256(content).hexdigest())
