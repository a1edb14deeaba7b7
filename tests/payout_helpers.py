"""Funded initiatives with a payout account, and the staff who pay them, for the payout tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sepaxml
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from app.config import Settings
from app.db import Database
from app.models import Initiative, LedgerTransfer, Payout, TransferKind
from tests.factories import World, make_initiative
from tests.race_helpers import pledge
from tests.staff_helpers import make_staff, staff_browser

GOOD_IBAN = "NL91ABNA0417164300"
OTHER_IBAN = "NL02RABO0123456789"
DEBTOR = {
    "payout_debtor_name": "Gemeente Almelo",
    "payout_debtor_iban": "NL20INGB0001234567",
    "payout_debtor_bic": "INGBNL2A",
}
XSD = Path(sepaxml.__file__).parent / "schemas" / "pain.001.001.03.xsd"


def with_debtor(client: TestClient, **extra: object) -> Settings:
    """Give the running app the municipality's account (and `extra` settings); returns the new settings."""
    app = client.app
    settings: Settings = app.state.settings.model_copy(update={**DEBTOR, **extra})  # type: ignore[attr-defined]
    app.state.settings = settings  # type: ignore[attr-defined]
    return settings


def funded(
    client: TestClient,
    db: Database,
    settings: Settings,
    codes: list[str],
    *,
    title: str,
    area_code: str = "BU01411000",
    iban: str | None = GOOD_IBAN,
    holder: str = "Buurtvereniging Centrum",
) -> int:
    """An initiative funded by the vouchers `codes` (750 each; its target is what they hold, at least the
    minimum target of 50 euros: the last voucher gives what is left), with `iban` as its payout account."""
    target = max(5_000, 750 * len(codes))
    assert 750 * len(codes) >= target, "not enough vouchers to fund it"
    with db.write() as session:
        initiative_id = make_initiative(
            session, settings, target_cents=target, title=title, area_code=area_code
        )
    room = target
    for code in codes:
        answer = pledge(client, code, initiative_id, min(750, room))
        assert answer.status_code == 201, answer.text
        room -= min(750, room)
    with db.write() as session:
        session.execute(
            update(Initiative)
            .where(Initiative.id == initiative_id)
            .values(payout_iban=iban, payout_account_holder=holder if iban else None)
        )
        assert session.scalar(select(Initiative.status).where(Initiative.id == initiative_id)) == "funded"
    return initiative_id


@dataclass
class Staff:
    admin_id: int
    admin: TestClient
    binnenstad: TestClient
    """Director of WK014110."""
    schelfhorst: TestClient
    """Director of WK014118."""


def staff(client: TestClient, db: Database, settings: Settings) -> Staff:
    admin_id = make_staff(db, settings, email="beheer@almelo.nl", role="admin", wijken=())
    binnenstad = make_staff(db, settings, email="binnenstad@almelo.nl", wijken=("WK014110",))
    schelfhorst = make_staff(db, settings, email="schelfhorst@almelo.nl", wijken=("WK014118",))
    return Staff(
        admin_id=admin_id,
        admin=staff_browser(client, db, admin_id),
        binnenstad=staff_browser(client, db, binnenstad),
        schelfhorst=staff_browser(client, db, schelfhorst),
    )


def csrf(browser: TestClient) -> str:
    from tests.pages_helpers import form_fields

    return form_fields(browser.get("/staff"), "/staff/logout")["csrf_token"]


def payout_of(db: Database, initiative_id: int) -> Payout | None:
    with db.read() as session:
        return session.scalar(select(Payout).where(Payout.initiative_id == initiative_id))


def payout_transfers(db: Database) -> int:
    with db.read() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(LedgerTransfer)
                .where(LedgerTransfer.kind == TransferKind.payout)
            )
            or 0
        )


def world_codes(world: World, start: int, count: int) -> list[str]:
    return world.codes[start : start + count]
