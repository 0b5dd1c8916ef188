"""Static files collect with the production storage (hashed names, every reference resolved).

The production storage rewrites the references inside CSS and JS files to the hashed names and
fails `collectstatic` on a reference to a file that is not shipped, so a deployment that runs the
documented `collectstatic` would stop there.
"""

import json

from django.core.management import call_command

PRODUCTION_STATIC_STORAGE = "whitenoise.storage.CompressedManifestStaticFilesStorage"


def test_collectstatic_succeeds_with_the_production_storage(tmp_path, settings):
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": PRODUCTION_STATIC_STORAGE}}

    call_command("collectstatic", "--no-input", verbosity=0)

    manifest = json.loads((tmp_path / "staticfiles.json").read_text())
    assert manifest["paths"]["vendor/leaflet/leaflet.js"].startswith("vendor/leaflet/leaflet.")
    assert (tmp_path / manifest["paths"]["vendor/leaflet/leaflet.js"]).is_file()
