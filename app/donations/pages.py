"""The donor's pages: the donate form, and the page Stripe sends the donor back to."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
