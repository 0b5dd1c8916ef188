"""The EPOD e-ticket as a PDF (fpdf2): delivery ticket, lines, times, signature and batch data."""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import translation
from django.utils.formats import date_format
from fpdf import FPDF

from fleet.models import ProofOfDelivery


def _text(value) -> str:
    # The core PDF fonts are Latin-1; anything else is replaced rather than failing the render.
    return str(value if value is not None else "").encode("latin-1", "replace").decode("latin-1")


def render_epod_pdf(epod: ProofOfDelivery) -> bytes:
    """The e-ticket with its times in the plant's zone, written the way the customer's language
    writes them (07.12.2026 17:46 in Bulgarian)."""
    order = epod.job.order
    with translation.override(order.customer.language if order else settings.LANGUAGE_CODE):
        return _render(epod)


def _render(epod: ProofOfDelivery) -> bytes:
    job = epod.job
    order = job.order
    zone = ZoneInfo(job.plant.timezone)

    def when(value) -> str:
        return date_format(value.astimezone(zone), "SHORT_DATETIME_FORMAT") if value else "-"

    pdf = FPDF(format="A4")
    pdf.set_title(f"Delivery ticket {job.ticket}")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _text(f"Delivery ticket {job.ticket}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    rows = [
        ("Order", order.number if order else "-"),
        ("Plant", f"{job.plant.code} {job.plant.name}"),
        ("Truck", job.tour.truck.code if job.tour_id else "-"),
        ("Loaded", when(job.loaded_at)),
        ("Departed", when(job.departed_at)),
        ("Arrived", when(job.arrived_at)),
        ("Signed", when(epod.signed_at)),
        ("Received by", epod.received_by),
        ("Position", f"{epod.lat}, {epod.lon}" if epod.lat is not None else "-"),
        ("Water added (l)", epod.water_added_l if epod.water_added_l is not None else "-"),
        ("Remarks", epod.remarks or "-"),
    ]
    for label, value in rows:
        pdf.cell(40, 6, _text(label))
        pdf.multi_cell(0, 6, _text(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 7, "Lines", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    skus = {line.order_line.position: line.order_line for line in job.lines.all()}
    for header, width in (("Pos", 12), ("SKU", 35), ("Description", 70), ("Delivered", 25), ("Returned", 25)):
        pdf.cell(width, 6, header, border=1)
    pdf.ln()
    for line in epod.lines:
        order_line = skus.get(line["position"])
        cells = (
            (str(line["position"]), 12),
            (order_line.sku if order_line else "", 35),
            ((order_line.description if order_line else "")[:40], 70),
            (f"{line['delivered']} {order_line.unit if order_line else ''}", 25),
            (line["returned"], 25),
        )
        for value, width in cells:
            pdf.cell(width, 6, _text(value), border=1)
        pdf.ln()
    batches = list(job.batches.all())
    if batches:
        pdf.ln(3)
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(0, 7, "Batch data", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=10)
        for batch in batches:
            summary = (
                f"{batch.batch_number} {batch.recipe} at {when(batch.batched_at)}; w/c {batch.water_cement_ratio or '-'};"
                f" slump {batch.slump_mm or '-'} mm; {batch.temperature_c or '-'} C"
            )
            pdf.multi_cell(0, 6, _text(summary), new_x="LMARGIN", new_y="NEXT")
            for item in batch.constituents:
                pdf.cell(
                    0,
                    5,
                    _text(f"   {item['material']}: {item['actual']} / {item['target']} {item['unit']}"),
                    new_x="LMARGIN",
                    new_y="NEXT",
                )
    pdf.ln(4)
    pdf.cell(0, 6, "Signature", new_x="LMARGIN", new_y="NEXT")
    with epod.signature.open("rb") as handle:
        pdf.image(io.BytesIO(handle.read()), w=60)
    pdf.ln(2)
    pdf.set_font("Helvetica", size=7)
    pdf.multi_cell(0, 4, _text(f"Evidence SHA-256: {epod.sha256}"), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
