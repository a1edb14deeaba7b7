"""Checking uploaded photos before anything is stored: only real JPEG, PNG, WebP or HEIC images of a sane
size. Everything else (a script renamed to .jpg, an SVG, a decompression bomb, a 40 MB file) is refused
with a plain message; accepted images are re-encoded by `photos.store_photo`, which drops EXIF and GPS."""

from __future__ import annotations

import io
from functools import cache

from PIL import Image, ImageOps, UnidentifiedImageError

from app.errors import InvalidInput

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_PHOTOS = 6
ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "HEIF"})


class PhotoRefused(InvalidInput):
    slug = "photo-refused"
    title = "Foto niet geaccepteerd"
    title_en = "Photo not accepted"


@cache
def _register_heif() -> None:
    from pillow_heif import register_heif_opener

    register_heif_opener()


def read_photo(data: bytes) -> Image.Image:
    """The decoded, upright image in `data`; PhotoRefused with a plain reason otherwise."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise PhotoRefused(
            f"Deze foto is te groot. Een foto mag hoogstens {MAX_UPLOAD_BYTES // (1024 * 1024)} MB zijn.",
            f"This photo is too large. A photo may be at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.",
        )
    if not data:
        raise PhotoRefused("Het bestand is leeg.", "The file is empty.")
    _register_heif()
    try:
        # Only the header is read here; the pixel count is checked before any pixel is decoded.
        image = Image.open(io.BytesIO(data), formats=sorted(ALLOWED_FORMATS))
        if image.width * image.height > MAX_PIXELS:
            raise Image.DecompressionBombError("too many pixels")
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRefused(
            "Deze foto heeft te veel beeldpunten. Verklein hem en probeer het opnieuw.",
            "This photo has too many pixels. Make it smaller and try again.",
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise PhotoRefused(
            "Dit bestand is geen foto die we kunnen lezen. Gebruik JPEG, PNG, WebP of HEIC.",
            "This file is not a photo we can read. Use JPEG, PNG, WebP or HEIC.",
        ) from None
    if image.format not in ALLOWED_FORMATS:
        raise PhotoRefused(
            "Dit bestand is geen foto die we kunnen lezen. Gebruik JPEG, PNG, WebP of HEIC.",
            "This file is not a photo we can read. Use JPEG, PNG, WebP or HEIC.",
        )
    upright = ImageOps.exif_transpose(image)
    return upright if upright is not None else image
