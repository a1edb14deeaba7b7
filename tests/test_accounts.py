"""Initiator accounts through the HTML pages: sign up, verify, sign in with a password or a link, reset,
sign out (here and everywhere), the session cookie, and what the database keeps (hashes only)."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update

from app.db import Database
from app.models import Account, AccountSession, AccountToken, OutboxMessage
from app.models.base import utcnow
from tests.pages_helpers import alert_text, form_fields, soup
from tests.ratelimit_helpers import start_in_one_window

PASSWORD = "paars-fietsje-7-bomen"
BASE = "http://testserver"


def newest_mail(db: Database) -> OutboxMessage:
    with db.read() as session:
        mail = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert mail is not None, "no mail in the outbox"
    return mail


def mail_count(db: Database) -> int:
    with db.read() as session:
        return len(session.scalars(select(OutboxMessage.id)).all())


def link_in(mail: OutboxMessage, prefix: str) -> str:
    """The path of the link in a mail's text body (the link is absolute, on BASE_URL)."""
    found = re.search(rf"{re.escape(BASE)}({re.escape(prefix)}[A-Za-z0-9_-]+)", mail.text_body)
    assert found, f"no {prefix} link in: {mail.text_body}"
    assert found.group(0) in mail.html_body
    return found.group(1)


def post_form(client: TestClient, page: str, action: str, **values: str) -> Any:
    """Open `page`, fill in the form that posts to `action` and send it."""
    fields = form_fields(client.get(page), action)
    fields.update(values)
    return client.post(action, data=fields, follow_redirects=False)


def sign_up(client: TestClient, email: str, password: str = PASSWORD) -> Any:
    return post_form(client, "/signup", "/signup", email=email, password=password)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> Any:
    return post_form(client, "/login", "/login", email=email, password=password)


def use_link(client: TestClient, path: str) -> Any:
    """Open a link from a mail (a page with one button) and press the button."""
    page = client.get(path)
    assert page.status_code == 200
    assert page.headers["referrer-policy"] == "no-referrer"
    return client.post(path, data=form_fields(page, path), follow_redirects=False)


def verified_account(client: TestClient, db: Database, email: str) -> None:
    assert sign_up(client, email).status_code == 303
    assert use_link(client, link_in(newest_mail(db), "/verify/")).status_code == 303


def signed_in(client: TestClient) -> bool:
    response = client.get("/account", follow_redirects=False)
    if response.status_code == 303:
        assert response.headers["location"] == "/login?next=/account"
        return False
    assert response.status_code == 200
    return True


def account_row(db: Database, email: str) -> Account:
    with db.read() as session:
        account = session.scalars(select(Account).where(Account.email == email)).one()
    return account


def session_count(db: Database, email: str) -> int:
    with db.read() as session:
        return len(
            session.scalars(select(AccountSession.id).join(Account).where(Account.email == email)).all()
        )


def test_sign_up_verify_sign_out_and_sign_in(client: TestClient, db: Database) -> None:
    response = sign_up(client, "  Anna@Example.NL ")
    assert response.status_code == 303
    assert response.headers["location"] == "/signup/sent"
    assert "mail" in client.get("/signup/sent").text
    mail = newest_mail(db)
    assert (mail.kind, mail.to_address) == ("verify", "anna@example.nl")
    assert account_row(db, "anna@example.nl").email_verified_at is None

    path = link_in(mail, "/verify/")
    client.get(path)  # a mail scanner fetching the link changes nothing
    assert account_row(db, "anna@example.nl").email_verified_at is None
    done = use_link(client, path)
    assert done.status_code == 303 and done.headers["location"] == "/account"
    assert account_row(db, "anna@example.nl").email_verified_at is not None

    page = client.get("/account")
    assert page.status_code == 200
    assert "anna@example.nl" in soup(page).select_one("dl").get_text(" ", strip=True)
    assert "bevestigd" in soup(page).select_one('[role="status"]').get_text(" ", strip=True)
    assert not soup(page).select(".utrecht-alert--warning")

    out = post_form(client, "/account", "/logout")
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert "uitgelogd" in soup(client.get("/login")).select_one('[role="status"]').get_text()
    assert not signed_in(client)
    assert session_count(db, "anna@example.nl") == 0

    again = sign_in(client, "ANNA@example.nl")
    assert again.status_code == 303 and again.headers["location"] == "/account"
    assert signed_in(client)


def test_unverified_account_signs_in_with_a_reminder(client: TestClient, db: Database) -> None:
    sign_up(client, "bas@example.nl")
    assert sign_in(client, "bas@example.nl").status_code == 303
    page = client.get("/account")
    warning = soup(page).select_one(".utrecht-alert--warning")
    assert warning is not None and "nog niet bevestigd" in warning.get_text()
    before = mail_count(db)
    post_form(client, "/account", "/account/verify/resend")
    assert mail_count(db) == before, "not more than one verification mail a minute"


def test_sign_in_returns_to_the_page_asked_for(client: TestClient, db: Database) -> None:
    verified_account(client, db, "cor@example.nl")
    post_form(client, "/account", "/logout")
    login_page = client.get("/login?next=/account")
    fields = form_fields(login_page, "/login")
    assert fields["next"] == "/account"
    fields.update(email="cor@example.nl", password=PASSWORD, next="https://evil.example/")
    response = client.post("/login", data=fields, follow_redirects=False)
    assert response.headers["location"] == "/account"


def test_wrong_password_and_unknown_address_get_the_same_answer(client: TestClient, db: Database) -> None:
    verified_account(client, db, "dirk@example.nl")
    post_form(client, "/account", "/logout")
    wrong = sign_in(client, "dirk@example.nl", "not-the-password")
    unknown = sign_in(client, "nobody@example.nl", "not-the-password")
    malformed = sign_in(client, "not an address", "not-the-password")
    assert wrong.status_code == unknown.status_code == malformed.status_code == 400
    assert alert_text(wrong) == alert_text(unknown) == alert_text(malformed)
    assert "klopt niet" in alert_text(wrong)
    assert form_fields(wrong, "/login")["email"] == "dirk@example.nl"
    assert "bk_session" not in wrong.headers.get("set-cookie", "")
    assert not signed_in(client)


def test_sign_up_with_a_known_address_sends_a_mail_and_shows_the_same_page(
    client: TestClient, db: Database
) -> None:
    first = sign_up(client, "eva@example.nl")
    again = sign_up(client, "EVA@example.nl", "een-ander-wachtwoord")
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    mail = newest_mail(db)
    assert (mail.kind, mail.to_address) == ("already_registered", "eva@example.nl")
    assert f"{BASE}/password/forgot" in mail.text_body
    with db.read() as session:
        assert len(session.scalars(select(Account.id)).all()) == 1


@pytest.mark.parametrize(
    ("password", "words"),
    [("kort", "minstens 10"), ("wachtwoord123", "vaak gebruikt"), ("x" * 201, "hoogstens 200")],
)
def test_weak_passwords_are_refused_next_to_the_field(
    client: TestClient, db: Database, password: str, words: str
) -> None:
    response = sign_up(client, "fien@example.nl", password)
    assert response.status_code == 422
    error = soup(response).select_one("#password-error")
    assert error is not None and words in error.get_text()
    assert soup(response).select_one("#password")["aria-invalid"] == "true"
    assert form_fields(response, "/signup")["email"] == "fien@example.nl"
    with db.read() as session:
        assert session.scalars(select(Account.id)).all() == []


def test_invalid_address_is_explained(client: TestClient) -> None:
    response = sign_up(client, "geen-adres")
    assert response.status_code == 422
    assert "geldig e-mailadres" in soup(response).select_one("#email-error").get_text()


def test_sign_up_without_password_signs_in_with_links(client: TestClient, db: Database) -> None:
    assert sign_up(client, "gijs@example.nl", "").status_code == 303
    assert account_row(db, "gijs@example.nl").password_hash is None
    assert sign_in(client, "gijs@example.nl", "").status_code == 400
    assert use_link(client, link_in(newest_mail(db), "/verify/")).status_code == 303
    assert signed_in(client)


def test_magic_link_signs_in_once(client: TestClient, db: Database) -> None:
    verified_account(client, db, "hans@example.nl")
    post_form(client, "/account", "/logout")
    before = mail_count(db)
    unknown = post_form(client, "/login", "/login/link", email="niemand@example.nl")
    assert mail_count(db) == before
    known = post_form(client, "/login", "/login/link", email="hans@example.nl")
    assert unknown.status_code == known.status_code == 303
    assert unknown.headers["location"] == known.headers["location"] == "/login/sent"
    mail = newest_mail(db)
    assert (mail.kind, mail.to_address) == ("login_link", "hans@example.nl")
    path = link_in(mail, "/login/link/")

    done = use_link(client, path)
    assert done.status_code == 303 and done.headers["location"] == "/account"
    assert signed_in(client)
    with TestClient(client.app) as other:
        reused = use_link(other, path)
        assert reused.status_code == 404
        assert "al gebruikt" in alert_text(reused)
        assert not signed_in(other)


def test_expired_magic_link_does_not_sign_in(client: TestClient, db: Database) -> None:
    verified_account(client, db, "ine@example.nl")
    post_form(client, "/account", "/logout")
    post_form(client, "/login", "/login/link", email="ine@example.nl")
    path = link_in(newest_mail(db), "/login/link/")
    with db.write() as session:
        session.execute(update(AccountToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = use_link(client, path)
    assert response.status_code == 404
    assert "verlopen" in alert_text(response)
    assert not signed_in(client)


def test_magic_link_on_an_unverified_account_drops_a_password_nobody_proved(
    client: TestClient, db: Database
) -> None:
    sign_up(client, "jan@example.nl")  # perhaps not Jan: anyone can type his address
    with TestClient(client.app) as intruder:
        assert sign_in(intruder, "jan@example.nl").status_code == 303
        post_form(client, "/login", "/login/link", email="jan@example.nl")
        assert use_link(client, link_in(newest_mail(db), "/login/link/")).status_code == 303
        assert not signed_in(intruder)
        assert sign_in(intruder, "jan@example.nl").status_code == 400
    account = account_row(db, "jan@example.nl")
    assert account.email_verified_at is not None and account.password_hash is None


def test_reset_sets_a_new_password_and_ends_other_sessions(client: TestClient, db: Database) -> None:
    verified_account(client, db, "kees@example.nl")
    assert signed_in(client)
    with TestClient(client.app) as phone:
        assert (
            post_form(phone, "/password/forgot", "/password/forgot", email="kees@example.nl").headers[
                "location"
            ]
            == "/password/forgot/sent"
        )
        mail = newest_mail(db)
        assert (mail.kind, mail.to_address) == ("reset", "kees@example.nl")
        path = link_in(mail, "/password/reset/")
        page = phone.get(path)
        assert page.headers["referrer-policy"] == "no-referrer"
        weak = phone.post(path, data={**form_fields(page, path), "password": "kort"}, follow_redirects=False)
        assert weak.status_code == 422
        done = phone.post(
            path,
            data={**form_fields(page, path), "password": "een-nieuw-lang-wachtwoord"},
            follow_redirects=False,
        )
        assert done.status_code == 303 and done.headers["location"] == "/account"
        assert signed_in(phone)
        assert not signed_in(client)
        assert session_count(db, "kees@example.nl") == 1
        again = phone.post(
            path,
            data={**form_fields(page, path), "password": "nog-een-ander-wachtwoord"},
            follow_redirects=False,
        )
        assert again.status_code == 404
    assert sign_in(client, "kees@example.nl").status_code == 400
    assert sign_in(client, "kees@example.nl", "een-nieuw-lang-wachtwoord").status_code == 303


def test_forgot_password_for_an_unknown_address_looks_the_same(client: TestClient, db: Database) -> None:
    before = mail_count(db)
    response = post_form(client, "/password/forgot", "/password/forgot", email="onbekend@example.nl")
    assert response.status_code == 303 and response.headers["location"] == "/password/forgot/sent"
    assert mail_count(db) == before


def test_sign_out_everywhere_ends_every_session(client: TestClient, db: Database) -> None:
    verified_account(client, db, "lies@example.nl")
    with TestClient(client.app) as laptop:
        assert sign_in(laptop, "lies@example.nl").status_code == 303
        assert signed_in(client) and signed_in(laptop)
        assert session_count(db, "lies@example.nl") == 2
        out = post_form(laptop, "/account", "/logout/everywhere")
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert not signed_in(laptop)
        assert not signed_in(client)
    assert session_count(db, "lies@example.nl") == 0


def _session_cookie(response: Any) -> str:
    cookies = [value for key, value in response.headers.multi_items() if key == "set-cookie"]
    found = [cookie for cookie in cookies if cookie.startswith("bk_session=")]
    assert len(found) == 1, cookies
    return found[0]


def test_session_cookie_flags(client: TestClient, db: Database) -> None:
    verified_account(client, db, "mien@example.nl")
    post_form(client, "/account", "/logout")
    cookie = _session_cookie(sign_in(client, "mien@example.nl")).lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "max-age=2592000" in cookie
    assert "path=/" in cookie
    assert "secure" not in cookie  # plain http in tests; https below
    with TestClient(client.app, base_url="https://testserver") as secure:
        assert "secure" in _session_cookie(sign_in(secure, "mien@example.nl")).lower()


def test_forged_and_expired_sessions_are_ignored(client: TestClient, db: Database) -> None:
    verified_account(client, db, "noor@example.nl")
    assert signed_in(client)
    real = client.cookies.get("bk_session")
    assert real is not None
    for forged in [secrets.token_urlsafe(32), "<script>" * 10, real[:-1], real]:
        client.cookies.clear()
        client.cookies.set("bk_session", forged)
        assert signed_in(client) == (forged == real)
    with db.write() as session:
        session.execute(update(AccountSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert not signed_in(client)

    from app.accounts import service

    with db.write() as session:
        assert service.purge_expired(session)[0] == 1
    assert session_count(db, "noor@example.nl") == 0


def test_posts_without_csrf_token_are_refused(client: TestClient, db: Database) -> None:
    verified_account(client, db, "otto@example.nl")
    for action in ["/login", "/signup", "/login/link", "/password/forgot", "/logout", "/logout/everywhere"]:
        response = client.post(action, data={"email": "otto@example.nl", "password": PASSWORD})
        assert response.status_code == 403, action
    assert signed_in(client)


def test_database_holds_no_plaintext_tokens_or_passwords(client: TestClient, db: Database) -> None:
    verified_account(client, db, "piet@example.nl")
    verify_token = link_in(newest_mail(db), "/verify/").rsplit("/", 1)[1]
    session_token = client.cookies.get("bk_session")
    post_form(client, "/login", "/login/link", email="piet@example.nl")
    login_token = link_in(newest_mail(db), "/login/link/").rsplit("/", 1)[1]
    secrets_in_play = [PASSWORD, verify_token, session_token, login_token]
    assert all(secrets_in_play)

    with db.read() as session:
        rows = [
            tuple(str(value) for value in row)
            for table in ("accounts", "account_sessions", "account_tokens")
            for row in session.execute(text(f"SELECT * FROM {table}")).all()
        ]
        hashes = set(session.scalars(select(AccountToken.token_hash)).all())
        hashes |= set(session.scalars(select(AccountSession.token_hash)).all())
    assert rows
    for row in rows:
        for value in row:
            for secret in secrets_in_play:
                assert secret not in value
    assert account_row(db, "piet@example.nl").password_hash.startswith("$argon2id$")
    for token in (verify_token, session_token, login_token):
        assert hashlib.sha256(token.encode()).hexdigest() in hashes


def test_failed_sign_ins_are_limited_per_client(client: TestClient, db: Database) -> None:
    start_in_one_window()  # the limit's window must not end halfway
    verified_account(client, db, "quinten@example.nl")
    post_form(client, "/account", "/logout")
    for _ in range(10):
        assert sign_in(client, "quinten@example.nl", "fout-wachtwoord!").status_code == 400
    blocked = sign_in(client, "quinten@example.nl")
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert "te vaak" in alert_text(blocked)
    assert not signed_in(client)


def test_invalid_links_count_as_failures(client: TestClient) -> None:
    for _ in range(10):
        assert use_link(client, f"/login/link/{secrets.token_urlsafe(32)}").status_code == 404
    assert use_link(client, f"/verify/{secrets.token_urlsafe(32)}").status_code == 429
