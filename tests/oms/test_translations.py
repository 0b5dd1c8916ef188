"""Every message a customer or a rep can be shown has a Bulgarian translation.

The services raise English constants (the REST API answers in English); the pages translate them at
display time, so each constant must be in the catalog.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.utils import translation

from customers import services as customer_services
from erp_sync import services as erp_services
from fleet.services import comms
from orders.services import lifecycle, placement, returns

ROOT = Path(__file__).resolve().parents[2]

SHOWN_ON_PAGES = [
    placement.TOTAL_TOO_LARGE,
    placement.SALES_POINT_INACTIVE,
    placement.LINES_REQUIRED,
    placement.QUANTITY_INVALID,
    placement.UNKNOWN_SKU,
    placement.SITE_REQUIRED,
    placement.DATE_IN_PAST,
    placement.WINDOW_INVALID,
    placement.NO_PLANT,
    placement.PRICE_INVALID,
    lifecycle.REASON_REQUIRED,
    lifecycle.NOT_ON_CALL,
    lifecycle.CALL_OFF_TOO_MUCH,
    returns.RETURN_TOO_MUCH,
    customer_services.INVALID_PHONE,
    customer_services.INVALID_NAME,
    customer_services.CUSTOMER_NOT_FOUND,
    customer_services.SITE_NOT_FOUND,
    comms.MESSAGE_INVALID,
    erp_services.DRIFT_RESOLVED,
]


@pytest.mark.parametrize("message", SHOWN_ON_PAGES)
def test_service_message_has_a_bulgarian_translation(message):
    with translation.override("bg"):
        translated = translation.gettext(message)

    assert translated != message
    assert any("\u0400" <= char <= "\u04ff" for char in translated)  # Cyrillic


def _po_entries(path: Path) -> list[dict]:
    """A minimal .po reader: flags, msgid, msgid_plural and msgstr(s) of every entry."""
    entries, entry, key = [], None, None
    for raw in path.read_text(encoding="utf-8").splitlines() + [""]:
        line = raw.strip()
        if not line:
            if entry is not None:
                entries.append(entry)
            entry, key = None, None
            continue
        entry = entry if entry is not None else {"flags": "", "strings": {}}
        if line.startswith("#,"):
            entry["flags"] = line
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            entry["strings"][key] += line[1:-1]
        else:
            key, _, rest = line.partition(" ")
            entry["strings"][key] = rest[1:-1]
    return [e for e in entries if e["strings"].get("msgid")]  # the header has an empty msgid


def test_catalog_is_complete_and_compiled():
    entries = _po_entries(ROOT / "locale" / "bg" / "LC_MESSAGES" / "django.po")

    untranslated = [
        e["strings"]["msgid"]
        for e in entries
        if not any(v for k, v in e["strings"].items() if k.startswith("msgstr"))
    ]
    fuzzy = [e["strings"]["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert untranslated == []
    assert fuzzy == []
    # The compiled catalog is the one in the .po: every simple entry translates to its msgstr.
    simple = [
        e["strings"]
        for e in entries
        if set(e["strings"]) == {"msgid", "msgstr"}
        and "\\" not in e["strings"]["msgid"] + e["strings"]["msgstr"]
    ]
    with translation.override("bg"):
        stale = [s["msgid"] for s in simple if translation.gettext(s["msgid"]) != s["msgstr"]]
    assert stale == []
