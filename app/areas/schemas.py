from __future__ import annotations

from pydantic import BaseModel


class AreaOut(BaseModel):
    code: str
    name: str
    kind: str
    parent_code: str | None
