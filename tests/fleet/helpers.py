"""Small helpers shared by the fleet tests."""

from __future__ import annotations

import io

from PIL import Image
from rest_framework.test import APIClient

from fleet.services.keys import driver_key_issue


def driver_client(driver) -> APIClient:
    _, key = driver_key_issue(driver=driver)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def image_bytes(fmt: str = "PNG", size=(40, 20), color=(0, 0, 0)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def upload(name: str, content: bytes, content_type: str = "image/png"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type=content_type)
