"""The back office's view of donations: refunds that are not through yet and Stripe events that went wrong."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
