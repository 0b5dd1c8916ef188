"""Evidence for the driver API: images and uploads (the API clients are in tests/helpers.py)."""

from __future__ import annotations

import io

from PIL import Image


def image_bytes(fmt: str = "PNG", size=(40, 20), color=(0, 0, 0)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def upload(name: str, content: bytes, content_type: str = "image/png"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type=content_type)
