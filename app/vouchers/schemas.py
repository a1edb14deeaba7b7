from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

CodeText = Annotated[str, Field(min_length=1, max_length=64, examples=["K7QM-2XHD-9RTW-FA"])]


class VoucherCheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    code: CodeText


class VoucherCheckOut(BaseModel):
    balance_cents: Annotated[int, Field(ge=0, description="Remaining balance in euro cents")]
    status: Literal["active", "expired", "replaced"]
    expires_at: datetime
    period: str
    buurt_code: str
