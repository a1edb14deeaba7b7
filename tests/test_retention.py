"""`buurtkas retention run`: a set time after an initiative closed, its initiator's, co-organisers' and
donors' personal data goes (payout account once paid, owner account unless it has another live initiative),
in one transaction, idempotently; the ledger, amounts, texts and the audit log stay as they were."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, update

from app.config import Settings
from app.db import Database
from app.initiatives.service import transition
from app.kit.clock import today as amsterdam_today
from app.models import (
    Account,
    AccountSession,
    AuditEvent,
    Donation,
    Initiative,
    InitiativeStatus,
    LedgerAccount,
    LedgerTransfer,
    Organiser,
    OutboxMessage,
    Payout,
    PayoutBatch,
    StripeEvent,
)
from app.models.base import utcnow
from app.ops import retention
from app.ops.retention import REDACTED_EVENT, removed_address, run_retention, scrub_sepa
from app.payouts import service as payouts
from app.pledges.service import create_pledge
from app.staff.scope import Scope
from tests.cli_helpers import Cli, ok
from tests.databases import test_settings
from tests.factories import World, build_world, make_initiative
from tests.payout_helpers import DEBTOR, GOOD_IBAN
from tests.staff_helpers import make_staff

OWNER = "eigenaar.oud@example.nl"
KEEPER = "eigenaar.actief@example.nl"
ORGANISER = "mede.organisator@example.nl"
DONOR = "gulle.gever@example.nl"
HOLDER = "Buurtvereniging Centrum"


def _account(session: object, email: str, name: str) -> int:
    account = Account(email=email, display_name=name, password_hash="x", email_verified_at=utcnow())
    session.add(account)  # type: ignore[attr-defined]
    session.flush()  # type: ignore[attr-defined]
    session.add(
        AccountSession(account_id=account.id, token_hash=email[:20].ljust(64, "0"), expires_at=utcnow())
    )  # type: ignore[attr-defined]
    return account.id


def setup(db: Database, settings: Settings, world: World) -> dict[str, int]:
    """Four initiatives: completed and paid out long ago (owner alone), cancelled long ago with donations
    (owner also runs a live one), the live one, and one closed ten days ago."""
    day = amsterdam_today()
    admin = make_staff(db, settings, email="beheer@almelo.nl", role="admin", wijken=())
    scope = Scope(
        staff_id=admin, is_admin=True, wijk_ids=frozenset(), area_ids=frozenset(), gemeente_wide=True
    )

    def build(session: object) -> dict[str, int]:
        ids = {
            "paid": world.initiative_id,
            "cancelled": make_initiative(session, settings, title="Speeltuin"),  # type: ignore[arg-type]
            "live": make_initiative(session, settings, title="Moestuin"),  # type: ignore[arg-type]
            "recent": make_initiative(session, settings, title="Buurtfeest"),  # type: ignore[arg-type]
        }
        ids["owner"] = _account(session, OWNER, "Oud Eigenaar")
        ids["keeper"] = _account(session, KEEPER, "Actief Eigenaar")
        for key, owner in (
            ("paid", "owner"),
            ("cancelled", "keeper"),
            ("live", "keeper"),
            ("recent", "owner"),
        ):
            session.execute(  # type: ignore[attr-defined]
                update(Initiative)
                .where(Initiative.id == ids[key])
                .values(
                    owner_account_id=ids[owner],
                    initiator_name=f"Initiatiefnemer {key}",
                    payout_iban=GOOD_IBAN,
                    payout_account_holder=HOLDER,
                )
            )
            session.add(Organiser(initiative_id=ids[key], name=f"Mede {key}", email=ORGANISER))  # type: ignore[attr-defined]
        for code in world.codes[:7]:
            create_pledge(
                session,  # type: ignore[arg-type]
                code=code,
                initiative_id=ids["paid"],
                amount_cents=None,
                settings=settings,
                today=day,
            )
        create_pledge(
            session,  # type: ignore[arg-type]
            code=world.codes[8],
            initiative_id=ids["cancelled"],
            amount_cents=300,
            settings=settings,
            today=day,
        )
        return ids

    ids = db.run_write(build)
    with db.write() as session:
        payouts.approve(session, scope, ids["paid"], staff_id=admin, actor="test")
        batch = payouts.export(session, settings, staff_id=admin, actor="test", today=day)
        payouts.mark_batch_paid(session, settings, batch.id, staff_id=admin, actor="test")
        transition(session, ids["paid"], InitiativeStatus.completed, actor="test", today=day)
        transition(session, ids["cancelled"], InitiativeStatus.cancelled, actor="test", today=day)
        transition(session, ids["recent"], InitiativeStatus.withdrawn, actor="test", today=day)
        long_ago, lately = utcnow() - timedelta(days=400), utcnow() - timedelta(days=10)
        for key, when in (("paid", long_ago), ("cancelled", long_ago), ("recent", lately)):
            session.execute(update(Initiative).where(Initiative.id == ids[key]).values(closed_at=when))
        for status, public_id in (("failed", "pubFAILED123"), ("open", "pubOPEN456")):
            session.add(
                Donation(
                    public_id=public_id,
                    initiative_id=ids["cancelled"],
                    amount_cents=1_000,
                    donor_name="Gulle Gever",
                    email=DONOR,
                    status=status,
                    checkout_session_id=f"cs_test_{public_id}",
                )
            )
        for event_id, processed in (("evt_done", utcnow()), ("evt_waiting", None)):
            payload = {
                "id": event_id,
                "data": {"object": {"metadata": {"donation": "pubFAILED123"}, "email": DONOR}},
            }
            session.add(
                StripeEvent(
                    event_id=event_id,
                    type="checkout.session.expired",
                    payload=json.dumps(payload),
                    processed_at=processed,
                )
            )
        for to, status in ((OWNER, "sent"), (DONOR, "failed"), (OWNER, "pending"), (KEEPER, "sent")):
            session.add(
                OutboxMessage(
                    kind="test",
                    to_address=to.upper() if status == "failed" else to,
                    subject="Over uw initiatief",
                    text_body="Beste",
                    html_body="<p>Beste</p>",
                    status=status,
                    next_attempt_at=long_ago,
                    created_at=long_ago,
                )
            )
    return ids


def unchanged_part(db: Database) -> tuple[object, ...]:
    with db.read() as session:
        return (
            session.execute(
                select(LedgerTransfer.id, LedgerTransfer.amount_cents).order_by(LedgerTransfer.id)
            ).all(),
            session.execute(
                select(LedgerAccount.id, LedgerAccount.balance_cents).order_by(LedgerAccount.id)
            ).all(),
            session.execute(
                select(
                    Initiative.id,
                    Initiative.title,
                    Initiative.description,
                    Initiative.pledged_cents,
                    Initiative.paid_out_cents,
                    Initiative.status,
                ).order_by(Initiative.id)
            ).all(),
            session.execute(
                select(AuditEvent.id, AuditEvent.before, AuditEvent.after).order_by(AuditEvent.id)
            ).all(),
            session.execute(select(Payout.id, Payout.amount_cents, Payout.status)).all(),
            session.execute(
                select(Donation.id, Donation.amount_cents, Donation.status).order_by(Donation.id)
            ).all(),
        )


def personal(db: Database) -> str:
    """Every place the tests put personal data, as one text."""
    with db.read() as session:
        parts = [
            session.execute(select(Account.email, Account.display_name, Account.password_hash)).all(),
            session.execute(
                select(
                    Initiative.id,
                    Initiative.initiator_name,
                    Initiative.payout_iban,
                    Initiative.payout_account_holder,
                )
            ).all(),
            session.execute(select(Organiser.initiative_id, Organiser.name, Organiser.email)).all(),
            session.execute(select(Payout.iban, Payout.account_holder)).all(),
            session.execute(select(PayoutBatch.sepa_xml)).all(),
            session.execute(select(Donation.public_id, Donation.donor_name, Donation.email)).all(),
            session.execute(select(StripeEvent.event_id, StripeEvent.payload)).all(),
            session.execute(select(OutboxMessage.to_address, OutboxMessage.status)).all(),
        ]
    return repr(parts)


def test_retention_removes_what_is_due_and_keeps_the_books(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    settings = test_settings(database_url, **DEBTOR)
    world = build_world(db, settings)
    ids = setup(db, settings, world)
    cli = Cli(database_url, tmp_path)
    books = unchanged_part(db)
    before = personal(db)

    dry = ok(cli("retention", "run", "--dry-run"))
    assert "dry run, nothing changed" in dry.stdout
    assert (
        "co-organisers: 2" in dry.stdout
        and "accounts anonymised: 0 (kept for another initiative: 2)" in dry.stdout
    )
    assert personal(db) == before and unchanged_part(db) == books

    done = ok(cli("retention", "run"))
    for line in (
        "initiatives (initiator name, payout account): 2",
        "co-organisers: 2",
        "accounts anonymised: 0",  # the old owner also has a recently closed initiative
        "paid payouts (IBAN, holder): 1, in 1 SEPA file(s)",
        "donations (donor name, e-mail): 1; Stripe events: 1",
    ):
        assert line in done.stdout, done.stdout

    with db.read() as session:
        initiatives = {i.id: i for i in session.scalars(select(Initiative))}
        for key in ("paid", "cancelled"):
            assert initiatives[ids[key]].initiator_name == ""
            assert (
                initiatives[ids[key]].payout_iban is None
                and initiatives[ids[key]].payout_account_holder is None
            )
        for key in ("live", "recent"):
            assert initiatives[ids[key]].initiator_name == f"Initiatiefnemer {key}"
            assert initiatives[ids[key]].payout_iban == GOOD_IBAN
        organisers = set(session.scalars(select(Organiser.initiative_id)))
        assert organisers == {ids["live"], ids["recent"]}
        payout = session.scalars(select(Payout)).one()
        assert payout.iban == "" and payout.account_holder == "" and payout.amount_cents == 5_000
        xml = session.scalars(select(PayoutBatch.sepa_xml)).one()
        assert GOOD_IBAN not in xml and HOLDER not in xml and DEBTOR["payout_debtor_iban"] in xml
        donations = {d.public_id: d for d in session.scalars(select(Donation))}
        assert donations["pubFAILED123"].email is None and donations["pubFAILED123"].donor_name == ""
        assert donations["pubOPEN456"].email == DONOR  # not settled yet
        events = dict(session.execute(select(StripeEvent.event_id, StripeEvent.payload)).all())
        assert events["evt_done"] == REDACTED_EVENT and DONOR in events["evt_waiting"]
        accounts = dict(session.execute(select(Account.id, Account.email)).all())
        assert accounts[ids["owner"]] == OWNER and accounts[ids["keeper"]] == KEEPER  # both have live work
        mails = sorted(session.execute(select(OutboxMessage.to_address, OutboxMessage.status)).all())
        # the donor's failed mail and the organiser's would go; the owners keep theirs (still reachable)
        assert (DONOR.upper(), "failed") not in mails and (OWNER, "pending") in mails
        assert (
            session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "retention.run")
            )
            == 1
        )

    books_now = unchanged_part(db)
    assert books_now[:3] == books[:3] and books_now[4:] == books[4:]
    assert books_now[3][: len(books[3])] == books[3]  # the audit log only grew (by the retention.run event)

    # the recent one comes due later: its owner (now without live initiatives) is anonymised then
    with db.write() as session:
        session.execute(
            update(Initiative)
            .where(Initiative.id == ids["recent"])
            .values(closed_at=utcnow() - timedelta(days=366))
        )
    later = ok(cli("retention", "run"))
    assert "accounts anonymised: 1" in later.stdout and "co-organisers: 1" in later.stdout
    with db.read() as session:
        owner = session.get(Account, ids["owner"])
        assert owner is not None
        assert (
            owner.email == removed_address(ids["owner"])
            and owner.display_name == ""
            and owner.password_hash is None
        )
        assert (
            session.scalar(
                select(func.count())
                .select_from(AccountSession)
                .where(AccountSession.account_id == ids["owner"])
            )
            == 0
        )
        mails = session.execute(select(OutboxMessage.to_address, OutboxMessage.status)).all()
        assert (OWNER, "sent") not in mails and (OWNER, "pending") in mails and (KEEPER, "sent") in mails

    again = ok(cli("retention", "run"))
    assert "nothing to remove" in again.stdout
    snapshot = personal(db)
    assert not retention.run(db, now=utcnow(), days=365, actor="test").changed
    assert personal(db) == snapshot
    ok(cli("ledger", "verify"))
    # (the live initiative keeps its organiser, initiator and payout account)
    for secret in (
        OWNER,
        "Oud Eigenaar",
        "Mede paid",
        "Mede cancelled",
        "Mede recent",
        "Initiatiefnemer paid",
    ):
        assert secret not in snapshot.replace(f"('{OWNER}', 'pending')", ""), secret


def test_nothing_closed_nothing_done(db: Database, settings: Settings, world: World) -> None:
    with db.write() as session:
        report = run_retention(session, now=utcnow(), days=365, actor="test")
    assert not report.changed and "nothing to remove" in report.lines()[-1]


def test_sepa_scrub_touches_only_the_named_payment() -> None:
    xml = (
        "<Document><Dbtr><Nm>Gemeente</Nm></Dbtr>"
        "<CdtTrfTxInf><PmtId><EndToEndId>BK-1</EndToEndId></PmtId><Cdtr><Nm>Jan</Nm></Cdtr>"
        "<CdtrAcct><Id><IBAN>NL91ABNA0417164300</IBAN></Id></CdtrAcct></CdtTrfTxInf>"
        "<CdtTrfTxInf><PmtId><EndToEndId>BK-2</EndToEndId></PmtId><Cdtr><Nm>Piet</Nm></Cdtr>"
        "<CdtrAcct><Id><IBAN>NL02RABO0123456789</IBAN></Id></CdtrAcct></CdtTrfTxInf></Document>"
    )
    cleaned = scrub_sepa(xml, ["BK-1"])
    assert "Jan" not in cleaned and "NL91ABNA0417164300" not in cleaned
    assert "Piet" in cleaned and "NL02RABO0123456789" in cleaned and "Gemeente" in cleaned
    assert scrub_sepa(cleaned, ["BK-1"]) == cleaned


def test_the_audit_log_names_no_initiator_or_account_holder(db: Database, database_url: str) -> None:
    """The audit log is kept for ever (append-only), so it must not hold what retention removes: people are
    named by id, IBANs by their last four digits (a payout's approval used to copy the account holder)."""
    settings = test_settings(database_url, **DEBTOR)
    setup(db, settings, build_world(db, settings))
    with db.read() as session:
        rows = session.execute(select(AuditEvent.action, AuditEvent.before, AuditEvent.after)).all()
    details = [json.dumps([before, after], ensure_ascii=False) for _action, before, after in rows]
    assert "payout.approved" in {action for action, _before, _after in rows}
    for value in (HOLDER, "Initiatiefnemer", OWNER, KEEPER, ORGANISER, DONOR, GOOD_IBAN[:-4]):
        assert all(value not in detail for detail in details), value
