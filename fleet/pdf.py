"""The EPOD e-ticket as a PDF (fpdf2): delivery ticket, lines, times, signature and batch data.

Written in the customer's language with an embedded Unicode font (DejaVu Sans, `fleet/fonts/`, its
licence beside it; fpdf2 embeds only the glyphs used): the PDF core fonts are Latin-1 and would turn
a Cyrillic name, address or remark into question marks.
"""

from __future__ import annotations

import io
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from fpdf import FPDF

from fleet.models import ProofOfDelivery

FONTS = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVuSans"


def _text(value) -> str:
    return str(value if value is not None else "")


def _document() -> FPDF:
    pdf = FPDF(format="A4")
    pdf.add_font(FONT, "", FONTS / "DejaVuSans.ttf")
    pdf.add_font(FONT, "B", FONTS / "DejaVuSans-Bold.ttf")
    return pdf


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

    title = _("Delivery ticket %(ticket)s") % {"ticket": job.ticket}
    pdf = _document()
    pdf.set_title(title)
    pdf.add_page()
    pdf.set_font(FONT, "B", 16)
    pdf.cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=10)
    rows = [
        (_("Order"), order.number if order else "-"),
        (_("Plant"), f"{job.plant.code} {job.plant.name}"),
        (_("Truck"), job.tour.truck.code if job.tour_id else "-"),
        (_("Loaded"), when(job.loaded_at)),
        (_("Departed"), when(job.departed_at)),
        (_("Arrived"), when(job.arrived_at)),
        (_("Signed"), when(epod.signed_at)),
        (_("Received by"), epod.received_by),
        (_("Position"), f"{epod.lat}, {epod.lon}" if epod.lat is not None else "-"),
        (_("Water added (l)"), epod.water_added_l if epod.water_added_l is not None else "-"),
        (_("Remarks"), epod.remarks or "-"),
    ]
    for label, value in rows:
        pdf.cell(40, 6, label)
        pdf.multi_cell(0, 6, _text(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font(FONT, "B", 11)
    pdf.cell(0, 7, _("Lines"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=10)
    skus = {line.order_line.position: line.order_line for line in job.lines.all()}
    headers = (
        (_("Pos"), 12),
        (_("SKU"), 35),
        (_("Description"), 70),
        (_("Delivered"), 25),
        (_("Returned"), 25),
    )
    for header, width in headers:
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
        pdf.set_font(FONT, "B", 11)
        pdf.cell(0, 7, _("Batch data"), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, size=10)
        for batch in batches:
            summary = _(
                "%(batch)s %(recipe)s at %(at)s; w/c %(ratio)s; slump %(slump)s mm; %(temperature)s °C"
            ) % {
                "batch": batch.batch_number,
                "recipe": batch.recipe,
                "at": when(batch.batched_at),
                "ratio": batch.water_cement_ratio or "-",
                "slump": batch.slump_mm or "-",
                "temperature": batch.temperature_c or "-",
            }
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
    pdf.cell(0, 6, _("Signature"), new_x="LMARGIN", new_y="NEXT")
    with epod.signature.open("rb") as handle:
        pdf.image(io.BytesIO(handle.read()), w=60)
    pdf.ln(2)
    pdf.set_font(FONT, size=7)
    pdf.multi_cell(
        0, 4, _("Evidence SHA-256: %(sha256)s") % {"sha256": epod.sha256}, new_x="LMARGIN", new_y="NEXT"
    )
    return bytes(pdf.output())
