"""Fixtures for Stripe: one local fake for the session (localstripe behind the Checkout proxy), reset per
test, and settings that point the app at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.config import Settings
from tests.databases import test_settings
from tests.stripe_fake import API_KEY, WEBHOOK_SECRET, StripeFake


@pytest.fixture(scope="session")
def stripe_server() -> Iterator[StripeFake]:
    fake = StripeFake()
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def stripe(stripe_server: StripeFake) -> Iterator[StripeFake]:
    stripe_server.reset()
    yield stripe_server
    stripe_server.reset()


def stripe_settings(database_url: str, fake: StripeFake, **overrides: object) -> Settings:
    """Test settings with donations switched on against the local fake."""
    values: dict[str, object] = {
        "stripe_api_key": API_KEY,
        "stripe_webhook_secret": WEBHOOK_SECRET,
        "stripe_api_base": fake.api_base,
    }
    return test_settings(database_url, **{**values, **overrides})
