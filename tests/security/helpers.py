"""Small helpers for the security tests: an initiator's own draft made through the real pages."""

from __future__ import annotations

import io
from datetime import timedelta

from fastapi.testclient import TestClient
from PIL import Image

from app.kit.clock import today
from tests.pages_helpers import alert_text, filled, form_fields, soup  # noqa: F401  # filled: for test_sqli

GOOD = {
    "title": "Bloembakken in de Grotestraat",
    "summary": "Tien bloembakken maken de straat vrolijker.",
    "description": "Wij zetten tien bloembakken neer en de buren geven ze om de beurt water.",
    "category": "groen",
    "area": "BU01411000",
    "target": "400",
    "line_text_0": "Tien bakken",
    "line_amount_0": "300",
    "line_text_1": "Planten en aarde",
    "line_amount_1": "100",
    "organiser_name_0": "Sanne",
    "organiser_email_0": "sanne@example.org",
}


def good_values(**changes: str) -> dict[str, str]:
    """Fields of a good new initiative (deadline in 30 days) with `changes`."""
    return {**GOOD, "deadline": (today() + timedelta(days=30)).isoformat(), **changes}


def new_draft(browser: TestClient, **changes: str) -> int:
    """A draft initiative of the signed-in initiator, made through /my/initiatives/new; its id."""
    page = browser.get("/my/initiatives/new")
    values = good_values(**changes)
    created = browser.post(
        "/my/initiatives/new", data=filled(page, "/my/initiatives/new", **values), follow_redirects=False
    )
    assert created.status_code == 303, alert_text(created)
    return int(created.headers["location"].rsplit("/", 1)[1])


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 80, 80)).save(buffer, "JPEG")
    return buffer.getvalue()
