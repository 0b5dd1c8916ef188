"""docs/lifecycle.md's transition tables, rendered from the code's maps (the maps are the chart).

`python manage.py lifecycle_chart` rewrites the generated part of docs/lifecycle.md; a test fails when
the document and the maps disagree.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from fleet.state import CALL_REQUEST_TRANSITIONS, JOB_TRANSITIONS, LOADING_TRANSITIONS, TOUR_TRANSITIONS
from oms.lib.transitions import Transitions
from orders.state import ALLOWED_TRANSITIONS, CALL_OFF_TRANSITIONS, ERP_SYNC_TRANSITIONS, RETURN_TRANSITIONS

CHART = Path(settings.BASE_DIR) / "docs" / "lifecycle.md"
START, END = "<!-- generated:maps:start -->", "<!-- generated:maps:end -->"

MAPS: list[tuple[str, str, Transitions]] = [
    ("Order", "`Order.status`", ALLOWED_TRANSITIONS),
    ("ERP sync state of an order", "`Order.erp_sync_state`", ERP_SYNC_TRANSITIONS),
    ("Call-off", "`CallOff.status`", CALL_OFF_TRANSITIONS),
    ("Return request", "`ReturnRequest.status`", RETURN_TRANSITIONS),
    ("Tour", "`Tour.status`", TOUR_TRANSITIONS),
    ("Job (truck trip)", "`Job.status`", JOB_TRANSITIONS),
    ("Loading status of a job", "`Job.loading_status`", LOADING_TRANSITIONS),
    ("Call request", "`CallRequest.status`", CALL_REQUEST_TRANSITIONS),
]


def render() -> str:
    parts = [
        START,
        "",
        "_Generated from the code's transition maps by `python manage.py lifecycle_chart`._",
        "",
    ]
    for title, field, transitions in MAPS:
        parts += [f"### {title} ({field})", "", "| from | may go to |", "|---|---|"]
        for state, targets in transitions.items():
            parts.append(f"| `{state}` | {', '.join(f'`{t}`' for t in sorted(targets)) or '— (final)'} |")
        parts.append("")
    parts.append(END)
    return "\n".join(parts)


def rewrite(text: str) -> str:
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise ValueError("docs/lifecycle.md has no generated section markers")
    return pattern.sub(lambda _m: render(), text)
