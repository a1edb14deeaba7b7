"""Signing an initiator in for page tests: a real account and session through the accounts service."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.accounts import service as accounts
from app.db import Database

PASSWORD = "lange-zin-als-wachtwoord-42"


def signed_in(client: TestClient, db: Database, email: str) -> TestClient:
    """A browser (its own cookies) on `client`'s app, signed in as a new account with `email`."""
    settings = client.app.state.settings  # type: ignore[attr-defined]
    with db.write() as session:
        accounts.sign_up(session, settings, email=email, password=PASSWORD, locale="nl")
    with db.write() as session:
        signed = accounts.sign_in(session, email=email, password=PASSWORD)
    browser = TestClient(client.app)
    browser.cookies.set("bk_session", signed.token)
    return browser
