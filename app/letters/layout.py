"""One voucher letter: an A4 page per household, made for a Dutch window envelope.

Positions are measured from the top left corner of the A4 sheet (210 × 297 mm):

- Address window: 20 mm from the left, 47 mm from the top, 90 × 45 mm. That is the window of a
  left-window envelope (EA5/6 "Amerikaanse envelop" 110 × 220 mm with an A4 folded in three, or C5
  162 × 229 mm with an A4 folded in two: window 20 mm from the left and about 45–50 mm from the top of
  the sheet). The text starts 5 mm inside the window (x = 25 mm, first baseline 56 mm from the top,
  last by 70 mm) and a line longer than 80 mm is set smaller, so the address stays inside the window
  when the sheet shifts a few millimetres in the envelope.
- Folds at 99 and 198 mm (in three) and 148.5 mm (in two), with short fold marks 4–8 mm from the left
  edge. The code and its QR code lie between 103 and 145 mm, so no fold runs through them either way.
- Margins 20 mm left and right; the logo starts 14 mm from the top, the last line is 15 mm from the
  bottom (inside what office and mail-house printers print).

Everything that is the same on every page of a run (logo, municipality, period, last day, texts in five
languages) is drawn once into a PDF form XObject; a page holds only a reference to it, the address, the
amount, the code and its QR code as vector paths (about 4 KB before compression, 1.5 KB after). That
keeps a run of 33,000 letters fast; app/letters/writer.py keeps its memory small.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import arabic_reshaper
from babel.dates import format_date
from bidi import get_display
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from app.kit.money import format_cents
from app.letters.errors import LetterSetupError
from app.letters.qr import draw_qr

HERE = Path(__file__).resolve().parent
FONT_DIR = HERE / "fonts"
DEFAULT_LOGO = HERE / "logo.png"

SANS, BOLD, MONO = "BuurtkasSans", "BuurtkasSans-Bold", "BuurtkasMono-Bold"
_FONT_FILES = {SANS: "DejaVuSans.ttf", BOLD: "DejaVuSans-Bold.ttf", MONO: "DejaVuSansMono-Bold.ttf"}

PAGE_WIDTH, PAGE_HEIGHT = A4
LEFT = 20 * mm
RIGHT = PAGE_WIDTH - 20 * mm
WINDOW = (20 * mm, 47 * mm, 90 * mm, 45 * mm)
"""Address window: x from the left, y from the top, width, height."""
ADDRESS_X = 25 * mm
ADDRESS_TOP = 56 * mm
ADDRESS_LEADING = 5.2 * mm
ADDRESS_WIDTH = 80 * mm
"""Address lines shrink to fit: 5 mm inside the window on both sides."""
CODE_BOX = (103 * mm, 145 * mm)
QR_SIZE = 40 * mm
FORM_NAME = "letter"

BLUE = (0.114, 0.31, 0.569)
INK = (0.1, 0.1, 0.1)
GREY = (0.35, 0.35, 0.35)
TINT = (0.93, 0.95, 0.98)

LANGUAGE_LINES = (
    "English: this letter holds a voucher for a project in your neighbourhood. Scan the QR code and "
    "choose “English” at the top of the website.",
    "Türkçe: Bu mektupta mahalleniz için bir kupon var. QR kodunu tarayın ve web sitesinin üstünde "
    "“English” dilini seçin.",
    "Polski: W tym liście jest bon na projekt w Twojej okolicy. Zeskanuj kod QR i wybierz „English” "
    "u góry strony.",
)
ARABIC_LINE = "العربية: في هذه الرسالة قسيمة لمشروع في حيك. امسح رمز QR واختر English في أعلى الموقع."


class AddressRow(Protocol):
    """A household's address, as `households_by_ids` gives it (a Row) or any object with these fields."""

    postcode: str
    huisnummer: int
    huisletter: str
    toevoeging: str
    straat: str
    woonplaats: str


@dataclass(frozen=True)
class Letterhead:
    """Who sends the letters, from the settings."""

    municipality: str
    base_url: str
    logo: Path | None = DEFAULT_LOGO


@dataclass(frozen=True)
class PeriodFacts:
    """What every letter of a run says about its period."""

    name: str
    ends_on: date
    value_cents: int


def register_fonts() -> None:
    """Register the embedded fonts with ReportLab once (DejaVu: Latin, Turkish, Polish and Arabic glyphs)."""
    registered = set(pdfmetrics.getRegisteredFontNames())
    for name, file in _FONT_FILES.items():
        if name not in registered:
            pdfmetrics.registerFont(TTFont(name, str(FONT_DIR / file)))


def street_line(household: AddressRow) -> str:
    """`Grotestraat 12A-2`: street, number, house letter, addition."""
    number = f"{household.huisnummer}{household.huisletter}"
    if household.toevoeging:
        number += f"-{household.toevoeging}"
    return f"{household.straat} {number}"


def postcode_line(household: AddressRow) -> str:
    """`7601 AB  ALMELO`: PostNL's form (a space in the postcode, two before the town in capitals)."""
    postcode = household.postcode
    if len(postcode) == 6:
        postcode = f"{postcode[:4]} {postcode[4:]}"
    return f"{postcode}  {household.woonplaats.upper()}"


def qr_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/v/{code}"


def site_name(base_url: str) -> str:
    """The site as people type it: `buurtkas.almelo.nl` (no scheme, no trailing slash)."""
    parts = urlsplit(base_url)
    return (parts.netloc + parts.path).rstrip("/") or base_url


def last_day(day: date) -> str:
    return format_date(day, format="d MMMM y", locale="nl")


def _fitting_size(text: str, width: float, size: float, smallest: float = 7) -> float:
    """`size`, or smaller (half points, down to `smallest`) so that `text` fits in `width`."""
    while size > smallest and pdfmetrics.stringWidth(text, SANS, size) > width:
        size -= 0.5
    return size


def _from_top(y: float) -> float:
    return PAGE_HEIGHT - y


class LetterPage:
    """Draws letters onto `canvas`: the shared part once (a form), then one page per `draw`."""

    def __init__(
        self, canvas: Canvas, letterhead: Letterhead, period: PeriodFacts, *, reprint: bool = False
    ) -> None:
        register_fonts()
        self.canvas = canvas
        self.letterhead = letterhead
        self.period = period
        self.reprint = reprint
        logo = None
        if letterhead.logo is not None:
            try:
                logo = ImageReader(str(letterhead.logo))
                logo.getSize()
            except Exception as exc:  # ReportLab raises many kinds for a missing or broken image
                raise LetterSetupError(
                    f"the logo {letterhead.logo} cannot be read as an image: {exc}"
                ) from exc
        canvas.beginForm(FORM_NAME)
        self._draw_shared(logo)
        canvas.endForm()

    def draw(self, household: AddressRow, code: str, amount_cents: int | None = None) -> None:
        """One page: the address in the window, the amount, the code and its QR code."""
        c = self.canvas
        c.doForm(FORM_NAME)
        c.setFillColorRGB(*INK)
        y = _from_top(ADDRESS_TOP)
        for line in ("Aan de bewoners van", street_line(household), postcode_line(household)):
            c.setFont(SANS, _fitting_size(line, ADDRESS_WIDTH, 11))
            c.drawString(ADDRESS_X, y, line)
            y -= ADDRESS_LEADING
        amount = amount_cents if amount_cents is not None else self.period.value_cents
        c.setFillColorRGB(*BLUE)
        c.setFont(BOLD, 30)
        c.drawString(124 * mm, _from_top(68 * mm), format_cents(amount, "nl"))
        c.setFillColorRGB(*INK)
        c.setFont(MONO, 25)
        c.drawString(LEFT + 6 * mm, _from_top(124 * mm), code)
        top, bottom = CODE_BOX
        middle = (top + bottom) / 2
        draw_qr(
            c,
            qr_url(self.letterhead.base_url, code),
            x=RIGHT - 4 * mm - QR_SIZE,
            y=_from_top(middle) - QR_SIZE / 2,
            size=QR_SIZE,
            fast=True,
        )
        c.showPage()

    # The part every page shares -------------------------------------------------------------------------

    def _draw_shared(self, logo: ImageReader | None) -> None:
        c = self.canvas
        municipality = self.letterhead.municipality
        site = site_name(self.letterhead.base_url)
        day = last_day(self.period.ends_on)

        text_x = LEFT
        if logo is not None:
            width, height = logo.getSize()
            box = 20 * mm
            scale = min(box / width, box / height) if width and height else 0
            c.drawImage(
                logo, LEFT, _from_top(14 * mm) - height * scale, width * scale, height * scale, mask="auto"
            )
            text_x = LEFT + width * scale + 5 * mm
        c.setFillColorRGB(*BLUE)
        c.setFont(BOLD, 18)
        c.drawString(text_x, _from_top(23 * mm), f"Buurtkas {municipality}")
        c.setFillColorRGB(*GREY)
        c.setFont(SANS, 10)
        c.drawString(text_x, _from_top(29 * mm), f"Gemeente {municipality}")

        # Fold marks at the left edge: in three (99, 198 mm) and in two (148.5 mm).
        c.setStrokeColorRGB(0.6, 0.6, 0.6)
        c.setLineWidth(0.3)
        for fold in (99 * mm, 148.5 * mm, 198 * mm):
            c.line(4 * mm, _from_top(fold), 8 * mm, _from_top(fold))

        # The voucher box beside the window: the amount is drawn per page.
        c.setFillColorRGB(*TINT)
        c.roundRect(120 * mm, _from_top(92 * mm), RIGHT - 120 * mm, 45 * mm, 3 * mm, stroke=0, fill=1)
        c.setFillColorRGB(*INK)
        c.setFont(BOLD, 11)
        c.drawString(124 * mm, _from_top(55 * mm), "Uw voucher")
        c.setFont(SANS, 10)
        lines = [self.period.name, "Geldig tot en met", day]
        y = _from_top(76 * mm)
        for line in lines:
            for part in simpleSplit(line, SANS, 10, RIGHT - 128 * mm)[:2]:
                c.drawString(124 * mm, y, part)
                y -= 4.6 * mm

        # The code box; code and QR code are drawn per page.
        top, bottom = CODE_BOX
        c.setFillColorRGB(*TINT)
        c.roundRect(LEFT, _from_top(bottom), RIGHT - LEFT, bottom - top, 3 * mm, stroke=0, fill=1)
        c.setFillColorRGB(*INK)
        c.setFont(BOLD, 12)
        c.drawString(LEFT + 6 * mm, _from_top(112 * mm), "Uw persoonlijke code")
        c.setFont(SANS, 10)
        text_width = RIGHT - QR_SIZE - 12 * mm - (LEFT + 6 * mm)
        y = _from_top(133 * mm)
        for line in simpleSplit(
            f"Scan de QR-code. Of ga naar {site}/voucher en typ deze code.", SANS, 10, text_width
        ):
            c.drawString(LEFT + 6 * mm, y, line)
            y -= 4.6 * mm

        # Body: what it is and the three steps.
        y = _from_top(156 * mm)
        c.setFillColorRGB(*BLUE)
        c.setFont(BOLD, 15)
        c.drawString(LEFT, y, "Uw buurt, uw keuze")
        y -= 8 * mm
        intro = [
            f"Bewoners van {municipality} hebben plannen om hun buurt mooier en gezelliger te maken. "
            "Met deze voucher kiest u zelf welk plan geld krijgt. U kunt alles aan één plan geven, "
            "of het bedrag verdelen over meer plannen."
        ]
        if self.reprint:
            intro.append("Dit is een nieuwe brief. De code uit uw vorige brief werkt niet meer.")
        y = self._paragraphs(intro, y, size=11, leading=5.2 * mm, gap=2 * mm)
        y -= 3 * mm
        c.setFillColorRGB(*BLUE)
        c.setFont(BOLD, 13)
        c.drawString(LEFT, y, "Zo werkt het")
        y -= 7 * mm
        steps = [
            f"1. Scan de QR-code met uw telefoon. Of ga naar {site}/voucher en typ uw code.",
            "2. Kies een initiatief in uw buurt.",
            f"3. Geef uw voucher: het hele bedrag of een deel. Dat kan tot en met {day}. "
            "Daarna vervalt wat u niet hebt gegeven.",
        ]
        y = self._paragraphs(steps, y, size=11, leading=5.2 * mm, gap=1.5 * mm, indent=4.5 * mm)

        # One line in four more languages, pointing to the language switch on the website.
        y = min(y - 6 * mm, _from_top(238 * mm))
        c.setStrokeColorRGB(0.8, 0.8, 0.8)
        c.line(LEFT, y + 4 * mm, RIGHT, y + 4 * mm)
        c.setFillColorRGB(*GREY)
        y = self._paragraphs(list(LANGUAGE_LINES), y, size=9, leading=4.1 * mm, gap=1.4 * mm)
        c.setFont(SANS, 9)
        for line in simpleSplit(arabic_reshaper.reshape(ARABIC_LINE), SANS, 9, RIGHT - LEFT):
            c.drawRightString(RIGHT, y, get_display(line))
            y -= 4.1 * mm

        c.setFillColorRGB(*GREY)
        c.setFont(SANS, 9)
        c.drawString(
            LEFT,
            _from_top(282 * mm),
            f"Vragen? Kijk op {site} of neem contact op met de gemeente {municipality}.",
        )

    def _paragraphs(
        self,
        texts: list[str],
        y: float,
        *,
        size: float,
        leading: float,
        gap: float,
        indent: float = 0,
    ) -> float:
        """Write wrapped paragraphs from baseline `y` down; a numbered step hangs after its number."""
        c = self.canvas
        c.setFillColorRGB(*INK if size >= 10 else GREY)
        c.setFont(SANS, size)
        for text in texts:
            first_x = LEFT
            rest_x = LEFT + indent
            for n, line in enumerate(simpleSplit(text, SANS, size, RIGHT - rest_x)):
                c.drawString(first_x if n == 0 else rest_x, y, line)
                y -= leading
            y -= gap
        return y


def new_canvas(target: Any, *, title: str, author: str) -> Canvas:
    """A canvas for letters writing to `target` (a path or a binary file object), pages compressed."""
    canvas = Canvas(target, pagesize=A4, pageCompression=1, invariant=False)
    canvas.setTitle(title)
    canvas.setAuthor(author)
    canvas.setCreator("Buurtkas")
    return canvas
