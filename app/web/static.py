"""Static files with cache headers: versioned URLs (`?v=hash`) may be kept for a year."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope


class CachedStaticFiles(StaticFiles):
    def __init__(self, *args: Any, immutable: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.immutable = immutable

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = (
                "public, max-age=31536000, immutable" if self.immutable else "public, max-age=3600"
            )
        return response
