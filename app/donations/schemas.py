from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

NO_NUL = r"^[^\x00]*$"
"""PostgreSQL cannot store NUL in text: such input is refused as bad input (422), not a 500."""


class DonationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    amount_cents: Annotated[
        int,
        Field(ge=1, le=100_000_000, description="In euro cents; the municipality sets the bounds (€1–€500)"),
    ]
    donor_name: Annotated[
        str, Field(max_length=70, pattern=NO_NUL, description="Shown on the initiative; empty: anonymous")
    ] = ""
    email: Annotated[
        str | None, Field(max_length=254, pattern=NO_NUL, description="For a receipt; never shown")
    ] = None


class DonationOut(BaseModel):
    donation_id: str
    checkout_url: str
    """Stripe's payment page: send the donor there."""
