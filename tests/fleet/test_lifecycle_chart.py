"""docs/lifecycle.md draws the transition maps of the code: the two must agree."""

from fleet.lifecycle_chart import CHART, MAPS, render, rewrite
from orders.models import OrderStatus


def test_the_lifecycle_document_shows_exactly_the_code_maps():
    text = CHART.read_text()

    assert rewrite(text) == text, "docs/lifecycle.md is stale: run `python manage.py lifecycle_chart`"
    assert render() in text


def test_every_status_of_every_map_has_a_row():
    rendered = render()

    for _title, _field, transitions in MAPS:
        for state in transitions:
            assert f"| `{state}` |" in rendered
    assert set(MAPS[0][2]) == set(OrderStatus.values)
    assert "| `delivered` | `completed` |" in rendered
    assert "| `cancelled` | — (final) |" in rendered
