from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.vouchers.schemas import CodeText

MAX_CENTS = 100_000_000


class PledgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    code: CodeText
    initiative_id: Annotated[int, Field(ge=1, le=2**62)]
    amount_cents: Annotated[
        int | None,
        Field(
            ge=1,
            le=MAX_CENTS,
            description="In euro cents; default: all that the voucher holds and the initiative still needs",
        ),
    ] = None


class PledgeInitiative(BaseModel):
    id: int
    raised_cents: int
    target_cents: int
    status: str


class PledgeOut(BaseModel):
    id: int
    amount_cents: int
    voucher_balance_cents: int
    initiative: PledgeInitiative
