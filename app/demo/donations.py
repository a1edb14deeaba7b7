"""A few donations in the demo, booked the way a confirmed Stripe payment is (no Stripe is needed)."""

from __future__ import annotations

import random
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.donations.service import confirm_payment
from app.models import Donation, DonationStatus, Initiative, InitiativeStatus

DONORS = ("Bakkerij Nijhuis", "Fam. Kamphuis", "", "Buurtvereniging De Riet", "", "Tuincentrum Almelo")
AMOUNTS = (1_000, 2_500, 500, 5_000, 1_500)


def add_donations(session: Session, settings: Settings, initiative_id: int, rng: random.Random) -> int:
    """One to three donations to a published initiative, leaving room for vouchers; returns the total."""
    initiative = session.execute(select(Initiative).where(Initiative.id == initiative_id)).scalar_one()
    if initiative.status != InitiativeStatus.published:
        return 0
    room = initiative.target_cents - initiative.pledged_cents - initiative.donated_cents
    total = 0
    for _ in range(rng.randint(1, 3)):
        amount = rng.choice(AMOUNTS)
        if total + amount > room // 3:
            break
        public_id = secrets.token_urlsafe(16)
        session.add(
            Donation(
                public_id=public_id,
                initiative_id=initiative_id,
                amount_cents=amount,
                donor_name=rng.choice(DONORS),
                status=DonationStatus.open,
            )
        )
        session.flush()
        outcome = confirm_payment(
            session,
            settings,
            public_id=public_id,
            payment_intent_id=f"pi_demo_{public_id}",
            amount_cents=amount,
            currency="eur",
        )
        assert outcome == "booked", outcome
        total += amount
    return total
