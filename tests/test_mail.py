"""The outbox sent over real SMTP (aiosmtpd on loopback): delivery, retries, giving up, several senders at
once, and the household's optional receipt mail through the pages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.mail.outbox import enqueue, status_counts
from app.mail.sender import BACKOFF, MAX_ATTEMPTS, parse_smtp_url, send_due
from app.main import create_app
from app.models import OutboxMessage, OutboxStatus
from app.models.base import utcnow
from app.ticks import run_tick
from tests.cli_helpers import Cli, ok
from tests.databases import test_settings
from tests.factories import World
from tests.mailserver import MailServer, free_port
from tests.pages_helpers import choose_amount, confirm, form_fields, hold_voucher, soup
from tests.race_helpers import run_together
from tests.ratelimit_helpers import start_in_one_window

RECEIPT = {"title": "Bankje bij de speeltuin", "amount_cents": 750, "receipt_url": "http://testserver/r/x"}


def _enqueue(
    db: Database, settings: Settings, *, to: str = "bewoner@example.nl", kind: str = "receipt"
) -> int:
    return db.run_write(
        lambda session: enqueue(session, settings, kind=kind, to=to, locale="nl", context=RECEIPT)
    )


def _row(db: Database, message_id: int) -> OutboxMessage:
    with db.read() as session:
        return session.execute(select(OutboxMessage).where(OutboxMessage.id == message_id)).scalar_one()


def _with_smtp(settings: Settings, url: str) -> Settings:
    return settings.model_copy(update={"smtp_url": url})


def test_smtp_urls_are_read_with_their_defaults() -> None:
    plain = parse_smtp_url("smtp://mailer:p%40ss@mail.example.nl:2525")
    assert (plain.hostname, plain.port, plain.username, plain.password) == (
        "mail.example.nl",
        2525,
        "mailer",
        "p@ss",
    )
    assert not plain.use_tls and not plain.start_tls
    starttls = parse_smtp_url("smtp+starttls://mail.example.nl")
    assert (starttls.port, starttls.start_tls, starttls.use_tls, starttls.username) == (
        587,
        True,
        False,
        None,
    )
    tls = parse_smtp_url("smtps://u:p@mail.example.nl")
    assert (tls.port, tls.use_tls) == (465, True)
    with pytest.raises(ValueError):
        parse_smtp_url("http://mail.example.nl")


def test_settings_refuse_a_malformed_smtp_url() -> None:
    with pytest.raises(ValueError, match="SMTP_URL"):
        test_settings("sqlite:///unused.db", smtp_url="mail.example.nl:25")
    assert test_settings("sqlite:///unused.db", smtp_url=" smtps://u:p@mail.example.nl ").smtp_url == (
        "smtps://u:p@mail.example.nl"
    )


def test_a_message_is_delivered_as_text_and_html(
    db: Database, settings: Settings, smtp_server: MailServer
) -> None:
    mail_settings = _with_smtp(settings, smtp_server.url)
    message_id = _enqueue(db, mail_settings)

    report = send_due(db, mail_settings)

    assert (report.sent, report.retried, report.failed) == (1, 0, 0)
    [received] = smtp_server.received
    assert received.rcpt_tos == ["bewoner@example.nl"]
    mail = received.message
    assert mail["To"] == "bewoner@example.nl"
    assert mail["From"] == "Buurtkas <noreply@buurtkas.localhost>"
    assert mail["Subject"] == "Bewijs van uw gift aan Bankje bij de speeltuin"
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert "U gaf € 7,50 aan Bankje bij de speeltuin." in text.get_content()
    assert "http://testserver/r/x" in text.get_content()
    html_text = soup_text(html.get_content())
    assert "Bankje bij de speeltuin" in html_text and "€ 7,50" in html_text
    row = _row(db, message_id)
    assert row.status == OutboxStatus.sent and row.attempts == 1 and row.sent_at is not None
    assert row.to_address == "", "a household's address is not kept once its receipt is sent"

    assert send_due(db, mail_settings).sent == 0, "a sent message is never sent again"
    assert len(smtp_server.received) == 1


def soup_text(html: str) -> str:
    from bs4 import BeautifulSoup

    return BeautifulSoup(html, "html.parser").get_text(" ", strip=True)


def test_other_kinds_keep_their_address_after_sending(
    db: Database, settings: Settings, smtp_server: MailServer
) -> None:
    mail_settings = _with_smtp(settings, smtp_server.url)
    with db.write() as session:
        message = OutboxMessage(
            kind="notice",
            to_address="initiatiefnemer@example.nl",
            subject="Uw initiatief",
            text_body="Tekst",
            html_body="<p>Tekst</p>",
            next_attempt_at=utcnow(),
        )
        session.add(message)
        session.flush()
        message_id = message.id
    assert send_due(db, mail_settings).sent == 1
    row = _row(db, message_id)
    assert (row.status, row.to_address) == (OutboxStatus.sent, "initiatiefnemer@example.nl")


def test_server_down_keeps_the_message_and_retries_later(
    db: Database, settings: Settings, smtp_server: MailServer
) -> None:
    down = _with_smtp(settings, f"smtp://127.0.0.1:{free_port()}")
    message_id = _enqueue(db, down)
    before = utcnow()

    report = send_due(db, down)

    assert (report.sent, report.retried, report.failed) == (0, 1, 0)
    row = _row(db, message_id)
    assert row.status == OutboxStatus.pending and row.attempts == 1
    assert row.next_attempt_at >= before + BACKOFF[0] - timedelta(seconds=1)
    assert row.last_error and "bewoner@example.nl" not in row.last_error

    up = _with_smtp(settings, smtp_server.url)
    assert send_due(db, up).sent == 0, "not due yet: the backoff holds"
    assert send_due(db, up, now=utcnow() + BACKOFF[0] + timedelta(seconds=5)).sent == 1
    assert len(smtp_server.wait_for(1)) == 1
    row = _row(db, message_id)
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.sent, 2, "")


def test_gives_up_after_six_attempts(db: Database, settings: Settings) -> None:
    down = _with_smtp(settings, f"smtp://127.0.0.1:{free_port()}")
    message_id = _enqueue(db, down)
    moment: datetime = utcnow()
    outcomes = []
    for _ in range(MAX_ATTEMPTS):
        report = send_due(db, down, now=moment)
        outcomes.append((report.retried, report.failed))
        moment = _row(db, message_id).next_attempt_at + timedelta(seconds=1)

    assert MAX_ATTEMPTS == 6
    assert outcomes == [(1, 0)] * 5 + [(0, 1)]
    row = _row(db, message_id)
    assert row.status == OutboxStatus.failed and row.attempts == 6
    assert "Error" in row.last_error
    assert row.to_address == "", "a receipt's address is not kept after giving up either"
    assert send_due(db, down, now=moment + timedelta(days=2)).retried == 0
    with db.read() as session:
        counts = status_counts(session)
    assert (counts.pending, counts.sent, counts.failed) == (0, 0, 1)


def test_backoff_steps_are_one_five_thirty_minutes_two_and_twelve_hours() -> None:
    assert [step.total_seconds() / 60 for step in BACKOFF] == [1, 5, 30, 120, 720]


def test_mail_off_leaves_messages_pending(db: Database, settings: Settings) -> None:
    message_id = _enqueue(db, settings)
    report = send_due(db, settings)
    assert report.disabled and "off" in report.summary()
    row = _row(db, message_id)
    assert (row.status, row.attempts) == (OutboxStatus.pending, 0)


@pytest.mark.race
def test_concurrent_senders_deliver_each_message_exactly_once(
    db: Database, settings: Settings, smtp_server: MailServer
) -> None:
    mail_settings = _with_smtp(settings, smtp_server.url)
    ids = db.run_write(
        lambda session: [
            enqueue(
                session,
                mail_settings,
                kind="receipt",
                to=f"bewoner{i}@example.nl",
                locale="nl",
                context=RECEIPT,
            )
            for i in range(40)
        ]
    )

    reports = run_together(4, lambda _: send_due(db, mail_settings, limit=100))

    assert not [r for r in reports if isinstance(r, BaseException)], reports
    assert sum(r.sent for r in reports if not isinstance(r, BaseException)) == 40
    recipients = sorted(rcpt for item in smtp_server.received for rcpt in item.rcpt_tos)
    assert recipients == sorted(f"bewoner{i}@example.nl" for i in range(40))
    with db.read() as session:
        statuses = session.execute(select(OutboxMessage.status, OutboxMessage.attempts)).all()
    assert len(statuses) == len(ids)
    assert {(status, attempts) for status, attempts in statuses} == {(OutboxStatus.sent, 1)}


def test_tick_sends_what_is_due(db: Database, settings: Settings, smtp_server: MailServer) -> None:
    mail_settings = _with_smtp(settings, smtp_server.url)
    _enqueue(db, mail_settings)
    db.settings = mail_settings
    report = run_tick(db, today=utcnow().date(), actor="tick")
    assert report.mail.sent == 1
    assert report.summary().endswith("mail: 1 sent, 0 to retry, 0 failed")
    assert len(smtp_server.received) == 1


def test_cli_mail_status_and_send(
    database_url: str, db: Database, settings: Settings, smtp_server: MailServer, tmp_path: Path
) -> None:
    _enqueue(db, settings)
    cli = Cli(database_url, tmp_path)
    assert ok(cli("mail", "status")).stdout.strip() == "outbox: 1 pending (1 due now), 0 sent, 0 failed"
    assert ok(cli("mail", "send")).stdout.strip() == (
        "mail: off (SMTP_URL is empty), messages stay in the outbox"
    )
    cli.env["SMTP_URL"] = smtp_server.url
    assert ok(cli("mail", "send")).stdout.strip() == "mail: 1 sent, 0 to retry, 0 failed"
    assert ok(cli("mail", "status")).stdout.strip() == "outbox: 0 pending (0 due now), 1 sent, 0 failed"
    assert len(smtp_server.wait_for(1)) == 1


# The household's receipt mail, through the pages.


@pytest.fixture
def mail_client(settings: Settings, db: Database, smtp_server: MailServer) -> Iterator[TestClient]:
    with TestClient(create_app(_with_smtp(settings, smtp_server.url), db)) as test_client:
        yield test_client


def _give(client: TestClient, world: World) -> str:
    hold_voucher(client, world.codes[0])
    done = confirm(client, world.initiative_id, choose_amount(client, world.initiative_id))
    assert done.status_code == 303
    return str(done.headers["location"])


def _outbox(db: Database) -> list[OutboxMessage]:
    with db.read() as session:
        return list(session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars())


def test_household_mails_its_receipt_to_itself(
    mail_client: TestClient, world: World, db: Database, smtp_server: MailServer
) -> None:
    receipt_path = _give(mail_client, world)
    page = mail_client.get(receipt_path)
    action = f"{receipt_path}/mail"
    fields = form_fields(page, action)
    assert set(fields) == {"csrf_token", "email"}
    email_input = soup(page).select_one("input#email")
    assert email_input is not None
    assert (email_input["type"], email_input["autocomplete"]) == ("email", "email")
    label = soup(page).select_one("label[for=email]")
    assert label is not None and "mag, hoeft niet" in label.get_text()
    assert soup(page).select_one("a[href^='mailto:']") is not None, "the mailto link stays"

    fields["email"] = "  Bewoner@Example.NL "
    sent = mail_client.post(action, data=fields, follow_redirects=False)

    assert sent.status_code == 303
    assert sent.headers["location"] == receipt_path
    [mail] = smtp_server.wait_for(1)  # sent in the background once the response went out
    assert mail["To"] == "Bewoner@example.nl"
    assert mail["Subject"].startswith("Bewijs van uw gift aan ")
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None and f"http://testserver{receipt_path}" in body.get_content()
    [row] = _outbox(db)
    assert (row.kind, row.status, row.to_address) == ("receipt", OutboxStatus.sent, "")

    shown = mail_client.get(receipt_path)
    status = [el.get_text(" ", strip=True) for el in soup(shown).select('[role="status"]')]
    assert any("We sturen dit bewijs naar uw e-mailadres" in text for text in status)
    again = mail_client.get(receipt_path)
    assert not any("We sturen dit bewijs" in el.get_text() for el in soup(again).select('[role="status"]'))


def test_a_bad_address_is_explained_with_the_input_kept(
    mail_client: TestClient, world: World, db: Database, smtp_server: MailServer
) -> None:
    receipt_path = _give(mail_client, world)
    action = f"{receipt_path}/mail"
    fields = form_fields(mail_client.get(receipt_path), action)
    fields["email"] = "bewoner@@example"

    refused = mail_client.post(action, data=fields, follow_redirects=False)

    assert refused.status_code == 422
    page = soup(refused)
    email_input = page.select_one("input#email")
    assert email_input is not None and email_input["value"] == "bewoner@@example"
    assert email_input.get("aria-invalid") == "true"
    error = page.select_one("#email-error")
    assert error is not None and "geen bruikbaar e-mailadres" in error.get_text()
    assert _outbox(db) == []
    assert smtp_server.received == []


def test_no_csrf_token_no_mail(mail_client: TestClient, world: World, db: Database) -> None:
    receipt_path = _give(mail_client, world)
    refused = mail_client.post(f"{receipt_path}/mail", data={"email": "bewoner@example.nl"})
    assert refused.status_code == 403
    assert _outbox(db) == []


def test_unknown_receipt_mails_nothing(mail_client: TestClient, world: World, db: Database) -> None:
    receipt_path = _give(mail_client, world)
    fields = form_fields(mail_client.get(receipt_path), f"{receipt_path}/mail")
    fields["email"] = "bewoner@example.nl"
    refused = mail_client.post("/receipts/not-a-token/mail", data=fields)
    assert refused.status_code == 404
    assert _outbox(db) == []


def test_a_receipt_is_mailed_at_most_five_times_an_hour(
    mail_client: TestClient, world: World, db: Database, smtp_server: MailServer
) -> None:
    start_in_one_window(3600)  # the limit's window must not end halfway
    receipt_path = _give(mail_client, world)
    action = f"{receipt_path}/mail"
    fields = form_fields(mail_client.get(receipt_path), action)
    fields["email"] = "bewoner@example.nl"
    codes = [mail_client.post(action, data=fields, follow_redirects=False).status_code for _ in range(6)]

    assert codes == [303] * 5 + [429]
    assert len(_outbox(db)) == 5
    last = mail_client.post(action, data=fields, follow_redirects=False)
    assert "Retry-After" in last.headers
    error = soup(last).select_one("#email-error")
    assert error is not None and "al vaak gemaild" in error.get_text()


def test_receipt_mail_page_in_english(mail_client: TestClient, world: World, db: Database) -> None:
    receipt_path = _give(mail_client, world)
    mail_client.cookies.set("bk_lang", "en")
    page = mail_client.get(receipt_path)
    label = soup(page).select_one("label[for=email]")
    assert label is not None and "optional" in label.get_text().lower()
    fields = form_fields(page, f"{receipt_path}/mail")
    fields["email"] = "nope"
    refused = mail_client.post(f"{receipt_path}/mail", data=fields)
    error = soup(refused).select_one("#email-error")
    assert error is not None and "not a usable e-mail address" in error.get_text()
