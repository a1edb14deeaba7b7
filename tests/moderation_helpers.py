"""Shared by the back-office initiative tests: initiatives in wijk WK014110, a director of that wijk and one
of WK014118, and small readers of what the database holds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from app.config import Settings
from app.db import Database
from app.initiatives import editor
from app.initiatives.service import NewInitiative
from app.kit.clock import today
from app.models import (
    Account,
    AuditEvent,
    Initiative,
    InitiativeTransition,
    OutboxMessage,
)
from tests.pages_helpers import form_fields, soup
from tests.staff_helpers import make_staff, staff_browser

TODAY = today()
VOLATILE = ("rate_counters", "staff_sessions", "audit_events")
"""What a refused request may still touch: counters, the staff session's idle time, the audit log."""
ACTIONS = ("approve", "request-changes", "reject", "cancel", "paper-vouchers", "payout-account")
GOOD_FORM = {
    "reason": "Past niet in het beleid",
    "message": "Graag een begroting per onderdeel",
    "codes": "AAAA-BBBB-CCCC-DD",
    "iban": "NL91ABNA0417164300",
    "holder": "Buurtvereniging",
}


def owner(db: Database, email: str) -> int:
    with db.write() as session:
        return int(
            session.execute(
                insert(Account).values(email=email, display_name="", locale="nl").returning(Account.id)
            ).scalar_one()
        )


def submitted(
    db: Database, settings: Settings, *, title: str = "Bloembakken in de straat", email: str | None = None
) -> int:
    """A submitted initiative in buurt BU01411000 (wijk WK014110), owned by an account with `email`."""
    account_id = owner(db, email or f"{title.split()[0].lower()}-{abs(hash(title)) % 10_000}@example.org")
    data = NewInitiative(
        title=title,
        area_code="BU01411000",
        target_cents=5_000,
        deadline=TODAY + timedelta(days=30),
        summary="Bloembakken voor de hele straat.",
        description="Wij willen **bloembakken** neerzetten, met de buren samen, en ze het hele jaar verzorgen.",
        category="groen",
        initiator_name="Joyce",
        budget_lines=(("Bakken", 3_000), ("Planten", 2_000)),
    )
    with db.write() as session:
        initiative_id = editor.create_draft(
            session,
            data,
            [("Piet Buur", "piet@example.org")],
            account_id=account_id,
            settings=settings,
            today=TODAY,
        )
        editor.submit(session, initiative_id, account_id=account_id, settings=settings, today=TODAY)
    return initiative_id


def status_of(db: Database, initiative_id: int) -> str:
    with db.read() as session:
        return str(session.scalar(select(Initiative.status).where(Initiative.id == initiative_id)))


def act(browser: TestClient, initiative_id: int, action: str, **values: str) -> Any:
    """Open the initiative's page and send the form for `action` with `values`."""
    page = browser.get(f"/staff/initiatives/{initiative_id}")
    assert page.status_code == 200, page.text
    fields = form_fields(page, f"/staff/initiatives/{initiative_id}/{action}")
    return browser.post(
        f"/staff/initiatives/{initiative_id}/{action}", data={**fields, **values}, follow_redirects=False
    )


def token_of(browser: TestClient) -> str:
    return form_fields(browser.get("/staff"), "/staff/logout")["csrf_token"]


def audit_rows(db: Database, action: str, initiative_id: int) -> list[AuditEvent]:
    with db.read() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == action,
                    AuditEvent.subject_type == "initiative",
                    AuditEvent.subject_id == str(initiative_id),
                )
            )
        )


def transitions(db: Database, initiative_id: int) -> list[tuple[str | None, str, str, str]]:
    with db.read() as session:
        return [
            (t.from_status, t.to_status, t.actor, t.reason)
            for t in session.scalars(
                select(InitiativeTransition)
                .where(InitiativeTransition.initiative_id == initiative_id)
                .order_by(InitiativeTransition.id)
            )
        ]


def mails_to(db: Database, address: str) -> list[OutboxMessage]:
    with db.read() as session:
        return list(
            session.scalars(
                select(OutboxMessage).where(OutboxMessage.to_address == address).order_by(OutboxMessage.id)
            )
        )


def listed_ids(response: Any, caption_id: str) -> list[int]:
    table = soup(response).find(id=caption_id)
    if table is None:
        return []
    return [int(str(tr["data-initiative"])) for tr in table.find_parent("table").select("tbody tr")]


def binnenstad_director(db: Database, settings: Settings) -> int:
    """A wijkregisseur of WK014110 (where the initiatives are)."""
    return make_staff(db, settings, email="binnenstad@almelo.nl", wijken=("WK014110",))


def schelfhorst_director(client: TestClient, db: Database, settings: Settings) -> TestClient:
    """A signed-in wijkregisseur of WK014118 only."""
    return staff_browser(
        client, db, make_staff(db, settings, email="schelfhorst@almelo.nl", wijken=("WK014118",))
    )
