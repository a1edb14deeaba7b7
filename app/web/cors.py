"""CORS for the public read API, for the origins allowed to embed Buurtkas (EMBED_ALLOWED_ORIGINS)."""

from __future__ import annotations

from fastapi import FastAPI

from app.config import Settings


def install_cors(app: FastAPI, settings: Settings) -> None:
    """Answer cross-origin GETs of the public API for the configured origins (filled in with issue 7)."""
