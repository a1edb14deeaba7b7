"""An A5 poster for an initiative: title, summary, the amount still needed and a QR code to its page."""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import A5
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from app.i18n import gettext as _
from app.i18n import money, use_locale
from app.initiatives.repository import InitiativeCard
from app.letters.qr import draw_qr

MARGIN = 14 * mm


def poster_pdf(card: InitiativeCard, *, url: str, municipality: str, locale: str) -> bytes:
    """One A5 page as PDF bytes."""
    buffer = io.BytesIO()
    width, height = A5
    canvas = Canvas(buffer, pagesize=A5, pageCompression=1)
    canvas.setTitle(card.title)
    canvas.setAuthor(f"Buurtkas {municipality}")
    with use_locale(locale):
        canvas.setFillColorRGB(0.114, 0.31, 0.569)
        canvas.rect(0, height - 22 * mm, width, 22 * mm, stroke=0, fill=1)
        canvas.setFillColorRGB(1, 1, 1)
        canvas.setFont("Helvetica-Bold", 16)
        canvas.drawString(MARGIN, height - 14 * mm, f"Buurtkas {municipality}")
        canvas.setFillColorRGB(0.1, 0.1, 0.1)
        y = height - 36 * mm
        canvas.setFont("Helvetica-Bold", 20)
        for line in simpleSplit(card.title, "Helvetica-Bold", 20, width - 2 * MARGIN)[:3]:
            canvas.drawString(MARGIN, y, line)
            y -= 9 * mm
        canvas.setFont("Helvetica", 12)
        for line in simpleSplit(card.summary, "Helvetica", 12, width - 2 * MARGIN)[:4]:
            canvas.drawString(MARGIN, y, line)
            y -= 6 * mm
        y -= 2 * mm
        canvas.setFont("Helvetica-Bold", 13)
        canvas.drawString(MARGIN, y, _("Nog nodig: %(amount)s") % {"amount": money(card.still_needed_cents)})
        draw_qr(canvas, url, x=MARGIN, y=30 * mm, size=60 * mm, quiet_zone=2)
        canvas.setFont("Helvetica", 11)
        text_x = MARGIN + 64 * mm
        steps = [
            _("1. Scan de code met uw telefoon."),
            _("2. Vul de code van uw voucherbrief in."),
            _("3. Kies het bedrag en bevestig."),
        ]
        line_y = 80 * mm
        for step in steps:
            for line in simpleSplit(step, "Helvetica", 11, width - text_x - MARGIN):
                canvas.drawString(text_x, line_y, line)
                line_y -= 5.5 * mm
            line_y -= 2 * mm
        canvas.setFont("Helvetica", 9)
        canvas.drawString(MARGIN, 18 * mm, url)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
