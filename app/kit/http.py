"""Request helpers shared by the JSON routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request

from app.errors import PROBLEM_JSON

MAX_JSON_BYTES = 256 * 1024
"""Largest body a JSON route reads (its fields need a few hundred bytes); longer bodies get 413 unread."""

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "invalidParams": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "reason": {"type": "string"},
                    "code": {"type": "string"},
                },
            },
        },
        "balance_cents": {"type": "integer"},
    },
}


IdPath = Annotated[int, Path(ge=1, le=2**62)]
"""A database id in a path: larger numbers are refused before they reach the database (they overflow it)."""


def problem(description: str) -> dict[str, Any]:
    """An OpenAPI response entry for a problem+json answer."""
    return {"description": description, "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}}}


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
