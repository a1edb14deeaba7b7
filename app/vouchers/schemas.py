from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

CODE_PATTERN = r"^[-_. \t\n\r]*(?:[0-9A-TV-Za-tv-z][-_. \t\n\r]*){14}$"
"""What app.kit.codes.normalize_code reads: 14 Crockford symbols in any case, with spaces, tabs, line
breaks, dashes, dots and underscores anywhere (I, L and O are read as 1, 1 and 0; U is not a symbol).
Documented, not enforced here: the service refuses other text with its own problem
(malformed-voucher-code), and the last symbol is a check that no pattern can express."""

CodeText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        examples=["K7QM-2XHD-9RTW-F5"],  # well formed (its check symbol fits), issued to nobody
        json_schema_extra={"pattern": CODE_PATTERN},
    ),
]


class VoucherCheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    code: CodeText


class VoucherCheckOut(BaseModel):
    balance_cents: Annotated[int, Field(ge=0, description="Remaining balance in euro cents")]
    status: Literal["active", "expired", "replaced"]
    expires_at: datetime
    period: str
    buurt_code: str
