"""/feeds/{code}.atom, .rss and .json (JSON Feed 1.1): an area's news; a buurt's feed carries its wijk's and
the gemeente's items too."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["feeds"])
