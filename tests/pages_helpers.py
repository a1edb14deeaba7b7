"""Helpers for tests that use the HTML pages like a browser without JavaScript: follow forms, read HTML."""

from __future__ import annotations

from typing import Any

from bs4 import BeautifulSoup
from fastapi.testclient import TestClient


def soup(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def form_fields(response: Any, action: str) -> dict[str, str]:
    """The hidden and filled-in fields of the form that posts to `action`."""
    form = soup(response).find("form", attrs={"action": action})
    assert form is not None, f"no form posting to {action}"
    return {
        str(field["name"]): str(field.get("value", ""))
        for field in form.find_all("input")
        if field.get("name")
    }


def hold_voucher(client: TestClient, code: str) -> Any:
    """Scan the letter's QR code: `/v/CODE` hands the code over and lands on the voucher page."""
    landing = client.get(f"/v/{code}", follow_redirects=False)
    assert landing.status_code == 303
    assert landing.headers["location"] == "/voucher"
    return client.get("/voucher")


def choose_amount(client: TestClient, initiative_id: int, amount: str | None = None) -> Any:
    """Open the give form and send it (with `amount`, or the amount the page filled in)."""
    page = client.get(f"/initiatives/{initiative_id}/give")
    assert page.status_code == 200, page.text
    fields = form_fields(page, f"/initiatives/{initiative_id}/give")
    if amount is not None:
        fields["amount"] = amount
    return client.post(f"/initiatives/{initiative_id}/give", data=fields, follow_redirects=False)


def confirm(client: TestClient, initiative_id: int, confirm_page: Any) -> Any:
    fields = form_fields(confirm_page, f"/initiatives/{initiative_id}/give/confirm")
    return client.post(f"/initiatives/{initiative_id}/give/confirm", data=fields, follow_redirects=False)


def alert_text(response: Any) -> str:
    found = soup(response).select('[role="alert"]')
    return " ".join(element.get_text(" ", strip=True) for element in found)


def filled(page: Any, action: str, **values: str) -> dict[str, str]:
    """The form's own fields (hidden, text, textareas, selects) with `values` put in."""
    fields = form_fields(page, action)
    form = soup(page).find("form", attrs={"action": action})
    for textarea in form.find_all("textarea"):
        fields[str(textarea["name"])] = textarea.get_text()
    for select_ in form.find_all("select"):
        chosen = select_.find("option", selected=True)
        fields[str(select_["name"])] = str(chosen["value"]) if chosen else ""
    fields.update(values)
    return fields
