from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field


class InitiativeOut(BaseModel):
    id: int
    title: str
    summary: str
    category: str
    status: str
    area_code: str
    target_cents: Annotated[int, Field(description="Target in euro cents")]
    raised_cents: Annotated[int, Field(description="Voucher value and donations counted, in euro cents")]
    supporters: Annotated[int, Field(description="Households that gave to it")]
    deadline: date | None
    published_at: datetime | None
    funded_at: datetime | None
