"""The OpenAPI schema is a tested artefact: no warnings, valid, and the committed copy is current."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
REGENERATE = "python manage.py spectacular --validate --fail-on-warn --file docs/openapi.yaml"


def generate(tmp_path) -> str:
    target = tmp_path / "openapi.yaml"
    # --fail-on-warn raises on any warning or error; --validate checks it against the OpenAPI 3 spec.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    return target.read_text()


def test_schema_generates_without_warnings_and_matches_the_committed_copy(tmp_path):
    generated = generate(tmp_path)

    assert generated == COMMITTED.read_text(), f"docs/openapi.yaml is stale: run `{REGENERATE}`"


def test_every_error_response_is_problem_json():
    schema = yaml.safe_load(COMMITTED.read_text())

    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status == "default" or int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], (path, method, status)


def test_kiosk_operations_have_stable_operation_ids():
    schema = yaml.safe_load(COMMITTED.read_text())
    ids = {op["operationId"] for item in schema["paths"].values() for op in item.values()}

    assert {
        "products_list",
        "products_retrieve",
        "products_availability",
        "customers_lookup",
        "customers_create",
        "orders_create",
        "orders_list",
        "orders_retrieve",
        "orders_cancel",
        "track_retrieve",
    } <= ids


@pytest.mark.django_db
def test_schema_endpoint_and_swagger_ui_are_served_locally(client):
    schema = client.get("/api/v1/schema/")
    docs = client.get("/api/v1/docs/")
    script = client.get("/api/v1/docs/?script=")

    assert schema.status_code == 200
    assert yaml.safe_load(schema.content)["info"]["title"] == "OMS API"
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "//cdn" not in html and "https://" not in html
    assert "<script>" not in html  # the CSP allows no inline script: the init script is a file
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()
    bundle = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert bundle.status_code == 200
