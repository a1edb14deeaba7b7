"""Storing initiative photos: re-encoded as JPEG, resized, without metadata, under a random name."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from PIL import Image
from sqlalchemy import insert
from sqlalchemy.orm import Session

from app.models import InitiativePhoto

MAX_SIDE = 1200
JPEG_QUALITY = 80


def store_photo(
    session: Session, media_dir: Path, *, initiative_id: int, position: int, image: Image.Image, alt_text: str
) -> str:
    """Write `image` as a fresh JPEG (no EXIF, at most MAX_SIDE pixels) and record it; returns its name."""
    picture = image.convert("RGB")
    picture.thumbnail((MAX_SIDE, MAX_SIDE))
    name = f"{secrets.token_urlsafe(18)}.jpg"
    media_dir.mkdir(parents=True, exist_ok=True)
    partial = media_dir / f".{name}.part"
    picture.save(partial, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    os.replace(partial, media_dir / name)
    session.execute(
        insert(InitiativePhoto).values(
            initiative_id=initiative_id,
            position=position,
            filename=name,
            width=picture.width,
            height=picture.height,
            alt_text=alt_text.strip()[:200],
        )
    )
    return name
