"""Back-office people for the demo: an administrator and a wijkregisseur, and payout accounts for the
funded demo initiatives so the payout flow can be tried at once."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.config import Settings
from app.models import Initiative, InitiativeStatus
from app.staff.service import StaffInput, create_staff

ACTOR = "demo"
PASSWORD = "buurtkas-demo-2027"
ADMIN = StaffInput(email="beheer@almelo.demo", name="Anouk Beheer", role="admin")
DIRECTOR = StaffInput(
    email="wijkregisseur@almelo.demo",
    name="Wessel Wijkregisseur",
    role="director",
    wijk_codes=("WK014113", "WK014117", "WK014121"),
)
# Test IBANs with valid check digits (no real accounts).
IBANS = ("NL91ABNA0417164300", "NL20INGB0001234567", "NL02ABNA0123456789", "NL44RABO0123456789")


def load_staff(session: Session) -> None:
    for person in (ADMIN, DIRECTOR):
        create_staff(session, person, password=PASSWORD, actor=ACTOR)
    funded = session.execute(
        select(Initiative.id, Initiative.initiator_name)
        .where(Initiative.status.in_([InitiativeStatus.funded, InitiativeStatus.completed]))
        .order_by(Initiative.id)
    ).all()
    for (initiative_id, name), iban in zip(funded, IBANS, strict=False):
        session.execute(
            update(Initiative)
            .where(Initiative.id == initiative_id)
            .values(payout_iban=iban, payout_account_holder=f"{name or 'Bewonersgroep'} namens de buurt"[:70])
        )


def staff_lines(settings: Settings) -> list[str]:
    base = settings.base_url.rstrip("/")
    return [
        f"back office: {base}/staff/login (at the first sign-in you set up an authenticator app with a QR code)",
        f"  {ADMIN.email} / {PASSWORD}  (administrator: everything)",
        f"  {DIRECTOR.email} / {PASSWORD}  (wijkregisseur: {', '.join(DIRECTOR.wijk_codes)})",
    ]
