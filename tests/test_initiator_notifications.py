"""The initiator hears of every change to their initiative by e-mail, delivered to a real SMTP server
(aiosmtpd): submitted, published, funded, expired, changes requested, and a reminder a week before the
deadline (once). The mail is in the recipient's language and never carries unescaped HTML from the title."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select, update

from app.config import Settings
from app.db import Database
from app.initiatives import editor
from app.initiatives.service import NewInitiative, transition
from app.kit.clock import today
from app.mail.sender import send_due
from app.models import Account, Initiative, InitiativeStatus
from app.ticks import run_tick
from tests.factories import World
from tests.mailserver import MailServer
from tests.race_helpers import pledge

TODAY = today()


def owner(db: Database, email: str, locale: str = "nl") -> int:
    with db.write() as session:
        return session.execute(
            insert(Account).values(email=email, display_name="", locale=locale).returning(Account.id)
        ).scalar_one()


def draft(db: Database, settings: Settings, account_id: int, title: str, target: int = 5_000) -> int:
    data = NewInitiative(
        title=title,
        area_code="BU01411000",
        target_cents=target,
        deadline=TODAY + timedelta(days=30),
        summary="Een plan voor de straat.",
        description="Een plan voor de straat, met alles wat erbij hoort en wie er meedoen.",
        category="groen",
        budget_lines=(("Alles", target),),
    )
    with db.write() as session:
        return editor.create_draft(
            session,
            data,
            [("Piet", "piet@example.org")],
            account_id=account_id,
            settings=settings,
            today=TODAY,
        )


def subjects(server: MailServer) -> list[str]:
    return [str(r.message["Subject"]) for r in server.received]


def test_each_step_sends_one_mail(db: Database, world: World, smtp_server: MailServer, client) -> None:  # type: ignore[no-untyped-def]
    settings = world.settings.model_copy(update={"smtp_url": smtp_server.url})
    account_id = owner(db, "joyce@example.org")
    initiative_id = draft(db, settings, account_id, "Bloemen <b>voor</b> iedereen")
    with db.write() as session:
        editor.submit(session, initiative_id, account_id=account_id, settings=settings, today=TODAY)
    with db.write() as session:
        transition(
            session, initiative_id, InitiativeStatus.published, actor="staff", today=TODAY, settings=settings
        )
    for code in world.codes[:7]:  # 7 × €7,50 reaches the €50 target: the pledge queues the funded mail
        pledge(client, code, initiative_id)
    send_due(db, settings)
    assert subjects(smtp_server) == [
        "Ingediend: Bloemen <b>voor</b> iedereen",
        "Gepubliceerd: Bloemen <b>voor</b> iedereen",
        "Doel gehaald: Bloemen <b>voor</b> iedereen",
    ]
    html = smtp_server.received[1].message.get_body(preferencelist=("html",)).get_content()
    assert "<b>voor</b>" not in html and "&lt;b&gt;voor&lt;/b&gt;" in html
    text = smtp_server.received[1].message.get_body(preferencelist=("plain",)).get_content()
    assert f"/initiatives/{initiative_id}" in text


def test_changes_requested_carry_the_reason_in_english(
    db: Database, world: World, smtp_server: MailServer
) -> None:
    settings = world.settings.model_copy(update={"smtp_url": smtp_server.url})
    account_id = owner(db, "sam@example.org", locale="en")
    initiative_id = draft(db, settings, account_id, "Benches")
    with db.write() as session:
        editor.submit(session, initiative_id, account_id=account_id, settings=settings, today=TODAY)
        transition(
            session,
            initiative_id,
            InitiativeStatus.changes_requested,
            actor="staff",
            reason="Voeg een offerte toe.",
            today=TODAY,
            settings=settings,
        )
    send_due(db, settings)
    assert subjects(smtp_server) == ["Submitted: Benches", "Please change: Benches"]
    text = smtp_server.received[1].message.get_body(preferencelist=("plain",)).get_content()
    assert "Voeg een offerte toe." in text


def test_tick_expires_and_reminds_once(db: Database, world: World, smtp_server: MailServer) -> None:
    settings = world.settings.model_copy(update={"smtp_url": smtp_server.url})
    db.settings = settings  # the tick reads the database's settings
    account_id = owner(db, "tick@example.org")
    soon = draft(db, settings, account_id, "Bijna einde")
    late = draft(db, settings, account_id, "Te laat")
    with db.write() as session:
        for initiative_id in (soon, late):
            transition(session, initiative_id, InitiativeStatus.submitted, actor="t", today=TODAY)
            transition(session, initiative_id, InitiativeStatus.published, actor="t", today=TODAY)
        session.execute(
            update(Initiative).where(Initiative.id == soon).values(deadline=TODAY + timedelta(days=5))
        )
        session.execute(
            update(Initiative).where(Initiative.id == late).values(deadline=TODAY - timedelta(days=1))
        )
    first = run_tick(db, today=TODAY, actor="tick")
    second = run_tick(db, today=TODAY, actor="tick")
    assert first.deadline_reminders == 1 and second.deadline_reminders == 0
    assert sorted(subjects(smtp_server)) == ["Doel niet gehaald: Te laat", "Nog een week: Bijna einde"]
    with db.read() as session:
        assert session.scalar(select(Initiative.status).where(Initiative.id == late)) == "expired"


def test_payout_sent_mail_is_ready_for_the_payout_flow(
    db: Database, world: World, smtp_server: MailServer
) -> None:
    """The back office (issue 5) marks a payout paid and calls `notify_owner(..., "payout_sent")`."""
    from app.initiatives.notifications import notify_owner

    settings = world.settings.model_copy(update={"smtp_url": smtp_server.url})
    account_id = owner(db, "betaald@example.org")
    initiative_id = draft(db, settings, account_id, "Speeltoestel")
    with db.write() as session:
        assert notify_owner(session, settings, initiative_id, "payout_sent")
        assert not notify_owner(session, settings, world.initiative_id, "payout_sent"), "no owner, no mail"
    send_due(db, settings)
    assert subjects(smtp_server) == ["Uitbetaald: Speeltoestel"]
