"""Outside strings (ERP tickets) become file names only as safe slugs next to our own id. (A NUL
cannot reach a ticket: PostgreSQL text refuses it; `safe_name` drops it all the same.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from fleet.models import Job, ProofOfDelivery
from fleet.services import epod_pdf_render
from oms.lib.files import safe_name
from tests.fleet.test_epod import form, post, unloading  # noqa: F401 - the fixture
from tests.helpers import driver_client


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("TK-000123", "TK-000123"),
        ("../../etc/passwd", "etc-passwd"),
        ("TK\x00-1", "TK--1"),
        ("/abs/path", "abs-path"),
        ("..", "file"),
        ("", "file"),
        ("C:\\Windows\\win.ini", "C-Windows-win-ini"),
        ("Тест 1", "1"),
        ("a" * 100, "a" * 40),
    ],
)
def test_safe_name(text, expected):
    assert safe_name(text) == expected


def stored_files() -> list[Path]:
    return sorted(p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("ticket", "slug"), [("../../etc/passwd", "etc-passwd"), ("..\\..\\boot.ini", "boot-ini")]
)
def test_an_erp_ticket_never_becomes_a_path(unloading, driver, ticket, slug, settings, tmp_path):  # noqa: F811
    settings.MEDIA_ROOT = str(tmp_path / "media")
    Job.objects.filter(pk=unloading.pk).update(ticket=ticket)
    client = driver_client(driver)

    response = post(client, unloading, form())
    epod = ProofOfDelivery.objects.get()
    epod_pdf_render(epod_id=epod.pk)
    epod.refresh_from_db()
    pdf = client.get(response.json()["pdf_url"].removeprefix(settings.SITE_URL))

    assert response.status_code == 201
    stem = f"{slug}-{unloading.pk}"
    assert Path(epod.signature.name).name == f"{stem}-signature.png"
    assert epod.pdf.name == f"epod/pdf/{stem}.pdf"
    root = Path(settings.MEDIA_ROOT).resolve()
    assert all(path.resolve().is_relative_to(root / "epod") for path in stored_files())
    assert [p.name for p in stored_files() if "passwd" in str(p.parent)] == []
    assert pdf.status_code == 200
    assert pdf["Content-Disposition"] == f'attachment; filename="EPOD-{slug}.pdf"'
