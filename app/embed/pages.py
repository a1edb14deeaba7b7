"""/embed.js and /embed/{widget}: read-only pages made for iframes on the municipality's own website."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
