"""Logs carry no voucher code, e-mail address, IBAN, name or token: not from the app's own log calls while
residents pledge, sign in and mistype codes, and not when a careless log call or an exception quotes them."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog
from fastapi.testclient import TestClient

from app.accounts import service as accounts
from app.db import Database
from app.kit.codes import format_code
from app.logging import install_stdlib_filter, processors, redact_text
from tests.api_cases import C, P, unknown_code
from tests.factories import World
from tests.initiator_helpers import PASSWORD
from tests.pages_helpers import form_fields

EMAIL = "marieke.de.vries@example.nl"
IBAN = "NL91ABNA0417164300"
TOKEN = "Zq3xV9kP0tLmW2yB7nR4sD8fG1hJ6cA5eU_-pT"


def sign_in(client: TestClient, email: str, password: str) -> int:
    fields = form_fields(client.get("/login"), "/login")
    fields.update(email=email, password=password)
    return client.post("/login", data=fields, follow_redirects=False).status_code


def test_flows_log_no_codes_or_addresses(
    client: TestClient, db: Database, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = world.settings
    with db.write() as session:
        accounts.sign_up(session, settings, email=EMAIL, password=PASSWORD, locale="nl")
    code = world.codes[0]
    wrong = unknown_code()
    capsys.readouterr()

    assert sign_in(client, EMAIL, PASSWORD) == 303
    assert sign_in(TestClient(client.app), EMAIL, "verkeerd-wachtwoord-123") == 400
    assert client.post(C, json={"code": wrong}).status_code == 404
    assert client.post(C, json={"code": format_code(wrong).lower()}).status_code == 404
    pledged = client.post(P, json={"code": format_code(code), "initiative_id": world.initiative_id})
    assert pledged.status_code == 201, pledged.text
    assert client.get(f"/v/{code}", follow_redirects=False).status_code == 303

    # a careless call and an exception that quotes everything: the processor cleans both
    log = structlog.get_logger("test")
    log.info(f"pledge by {EMAIL} with {code}", who=EMAIL, what=[format_code(code)], bank={"nr": IBAN})
    log.info("account.created", email="someone@example.org", name="Marieke", code="ANYTHING", iban="x")
    try:
        raise ValueError(f"no voucher {format_code(wrong)} for {EMAIL}, pay to {IBAN} with token {TOKEN}")
    except ValueError:
        log.exception("something.failed")

    out = capsys.readouterr()
    logged = out.out + out.err
    assert "account.signed_in" in logged and "something.failed" in logged and "ValueError" in logged
    for secret in (
        code,
        format_code(code),
        wrong,
        format_code(wrong),
        format_code(wrong).lower(),
        EMAIL,
        "someone@example.org",
        "Marieke",
        "ANYTHING",
        IBAN,
        TOKEN,
        PASSWORD,
    ):
        assert secret not in logged, secret
    assert "[code]" in logged and "[e-mail]" in logged and "[iban]" in logged and "[token]" in logged


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("mail.dispatch_failed message_id=12 kind=pledge_receipt attempts=3", True),
        ("account.signed_out_everywhere account_id=7 sessions=2", True),
        ("sqlalchemy.exc.PendingRollbackError: administrators", True),
        ("stripe.event_failed stripe_event=evt_1NirD82eZvKYlo2CIvbtLWuY", True),
        ("2026-12-01T15:40:17.123456Z /api/v1/initiatives/12 took 0.05 s", True),
        ("/static/app.3f9a2c1b.css 304", True),
        ("code K7QM-2XHD-9RTW-FA", False),
        ("iban NL91 ABNA 0417 1643 00", False),
        ("Authorization: Bearer abc.def", False),
        ("to Jan.Jansen+buurt@gemeente.almelo.nl", False),
    ],
)
def test_what_is_redacted(text: str, kept: bool) -> None:
    assert (redact_text(text) == text) is kept, redact_text(text)


def test_json_lines_are_redacted_too() -> None:
    out = io.StringIO()
    previous = structlog.get_config()
    structlog.configure(
        processors=processors(json=True),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    try:
        structlog.get_logger().warning("stripe.error", message=f"customer {EMAIL}", account_id=3)
    finally:
        structlog.configure(**previous)
    line = json.loads(out.getvalue())
    assert line["message"] == "customer [e-mail]" and line["account_id"] == 3


def test_standard_library_records_are_redacted() -> None:
    out = io.StringIO()
    logger = logging.getLogger("uvicorn.error")
    handler = logging.StreamHandler(out)
    logger.addHandler(handler)
    try:
        install_stdlib_filter()
        try:
            raise RuntimeError(f"[parameters: ('{EMAIL}', '{IBAN}')]")
        except RuntimeError:
            logger.exception("Exception in ASGI application for %s", EMAIL)
    finally:
        logger.removeHandler(handler)
    text = out.getvalue()
    assert "RuntimeError" in text and "Exception in ASGI application" in text
    assert EMAIL not in text and IBAN not in text


def test_access_log_records_keep_their_shape() -> None:
    """uvicorn's access formatter unpacks the record's arguments: they stay five, the path without the code."""
    from uvicorn.logging import AccessFormatter

    out = io.StringIO()
    logger = logging.getLogger("uvicorn.access")
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False)
    )
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        install_stdlib_filter()
        code = format_code(unknown_code())
        logger.info('%s - "%s %s HTTP/%s" %d', "10.0.0.7:5000", "GET", f"/v/{code}", "1.1", 303)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert out.getvalue().strip() == '10.0.0.7:5000 - "GET /v/[code] HTTP/1.1" 303 See Other'
