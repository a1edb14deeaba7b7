"""Ids of other people's things do not open them: a director of another wijk, another initiator, someone
guessing donation or receipt links. Every refusal is a 404 (or 403) and changes nothing.

Guards app/staff/scope.py (Scope.require / clause on every back-office item), the owner check in
app/initiatives/editor.owned, the random public ids of donations and the signed receipt tokens
(app/web/session.py sign_receipt). Checked to fail without the protection: with scope_of returning an
administrator's Scope for everyone the director test failed (200 on another wijk's initiative); with editor.owned not comparing
the owner the initiator test failed (200 on another's draft); with the receipt token made of the plain
pledge id (sign_receipt returning str(pledge_id), receipt_pledge_id taking digits) the receipt test failed
(each change undone, never committed).
tests/test_staff_scope.py goes through every /staff route; this file checks the cases by name.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select, update

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.models import Donation, Household, Initiative, Voucher
from app.models.news import NewsKind
from app.news.service import post_news
from tests.dbstate import snapshot
from tests.factories import World, area_id, make_initiative
from tests.initiator_helpers import signed_in
from tests.race_helpers import pledge
from tests.security.helpers import good_values, new_draft
from tests.staff_helpers import make_staff, staff_browser
from tests.stripe_fake import API_KEY, WEBHOOK_SECRET

VOLATILE = ("rate_counters", "staff_sessions", "audit_events", "sessions")
REFUSED = (403, 404)


def csrf_of(browser: TestClient, path: str) -> str:
    page = BeautifulSoup(browser.get(path).text, "html.parser")
    field = page.find("input", attrs={"name": "csrf_token"})
    assert field is not None, f"no form on {path}"
    return str(field["value"])


@pytest.fixture
def binnenstad(client: TestClient, db: Database, settings: Settings, world: World) -> dict[str, int]:
    """A funded initiative (with its payout to approve), a news item and a voucher in wijk WK014110."""
    with db.write() as session:
        funded = make_initiative(session, settings, target_cents=5_000, title="Gehaald in de Binnenstad")
    for code in world.codes[:7]:
        assert pledge(client, code, funded).status_code == 201
    with db.write() as session:
        session.execute(
            update(Initiative)
            .where(Initiative.id == funded)
            .values(payout_iban="NL91ABNA0417164300", payout_account_holder="Buurtvereniging")
        )
        news = post_news(
            session,
            area_id=area_id(session, "BU01411000"),
            kind=NewsKind.post,
            title="Binnenstad nieuws",
            body="Alleen voor de Binnenstad.",
        )
        voucher = session.execute(
            select(Voucher.id)
            .join(Household, Household.id == Voucher.household_id)
            .where(Household.buurt_id == area_id(session, "BU01411001"))
            .limit(1)
        ).scalar_one()
    return {"funded": funded, "open": world.initiative_id, "news": news, "voucher": voucher}


def test_a_director_cannot_read_or_change_another_wijks_items(
    client: TestClient, db: Database, settings: Settings, binnenstad: dict[str, int]
) -> None:
    other = staff_browser(
        client, db, make_staff(db, settings, email="schelfhorst@almelo.nl", wijken=("WK014118",))
    )
    own = staff_browser(
        client, db, make_staff(db, settings, email="binnenstad@almelo.nl", wijken=("WK014110",))
    )
    funded, open_id, news, voucher = (binnenstad[k] for k in ("funded", "open", "news", "voucher"))
    reads = [
        f"/staff/initiatives/{open_id}",
        f"/staff/initiatives/{funded}",
        f"/staff/news/{news}/edit",
        f"/staff/payouts/initiatives/{funded}",
        f"/staff/vouchers/{voucher}/reissue",
    ]
    for path in reads:  # the right director sees them: the ids are real
        assert own.get(path).status_code == 200, path
    token = csrf_of(other, "/staff/news/new")
    before = snapshot(db, skip=VOLATILE)
    for path in reads:
        answer = other.get(path)
        assert answer.status_code in REFUSED, (path, answer.status_code)
        assert "Gehaald in de Binnenstad" not in answer.text and "Binnenstad nieuws" not in answer.text
    writes: list[tuple[str, dict[str, Any]]] = [
        (f"/staff/initiatives/{open_id}/cancel", {"reason": "weg ermee"}),
        (f"/staff/initiatives/{open_id}/reject", {"reason": "weg ermee"}),
        (f"/staff/initiatives/{open_id}/request-changes", {"reason": "anders"}),
        (f"/staff/initiatives/{funded}/payout-account", {"iban": "NL02ABNA0123456789", "holder": "Dief"}),
        (f"/staff/payouts/initiatives/{funded}/approve", {}),
        (f"/staff/news/{news}/edit", {"title": "Overgenomen", "body": "Overgenomen"}),
        (f"/staff/news/{news}/hide", {}),
        (f"/staff/vouchers/{voucher}/reissue", {"confirm": "1"}),
    ]
    for path, data in writes:
        answer = other.post(path, data={"csrf_token": token, **data}, follow_redirects=False)
        assert answer.status_code in REFUSED, (path, answer.status_code)
    # the history of an address in another wijk: the same answer as an address that does not exist
    theirs = other.get("/staff/vouchers/address", params={"postcode": "7600AB", "huisnummer": "2"})
    nowhere = other.get("/staff/vouchers/address", params={"postcode": "7600AB", "huisnummer": "99"})
    mine = own.get("/staff/vouchers/address", params={"postcode": "7600AB", "huisnummer": "2"})
    assert theirs.status_code == nowhere.status_code
    assert "Grotestraat 2" in mine.text and "Grotestraat 2" not in theirs.text
    assert snapshot(db, skip=VOLATILE) == before


def test_an_initiator_cannot_open_another_initiators_pages(
    client: TestClient, db: Database, world: World
) -> None:
    owner = signed_in(client, db, "eigenaar@example.org")
    draft = new_draft(owner)
    assert owner.get(f"/my/initiatives/{draft}").status_code == 200
    other = signed_in(client, db, "buurman@example.org")
    own_draft = new_draft(other)
    token = csrf_of(other, f"/my/initiatives/{own_draft}")
    before = snapshot(db, skip=VOLATILE)
    for target in (draft, world.initiative_id):
        for path in (f"/my/initiatives/{target}", f"/my/initiatives/{target}/edit"):
            assert other.get(path).status_code == 404, path
        for suffix, data in (
            ("edit", good_values(title="Overgenomen")),  # a valid form: the owner check must refuse it
            ("submit", {}),
            ("withdraw", {"reason": "weg"}),
            ("complete", {}),
            ("payout", {"iban": "NL02ABNA0123456789", "holder": "Dief"}),
            ("paper-vouchers", {"codes": world.codes[0]}),
            ("updates", {"title": "Nep", "body": "Nep"}),
            ("photos/1/delete", {}),
        ):
            answer = other.post(
                f"/my/initiatives/{target}/{suffix}",
                data={"csrf_token": token, **data},
                follow_redirects=False,
            )
            assert answer.status_code in REFUSED, (suffix, answer.status_code)
    assert snapshot(db, skip=VOLATILE) == before


def test_receipt_links_are_signed(client: TestClient, db: Database, world: World, settings: Settings) -> None:
    made = pledge(client, world.codes[0], world.initiative_id)
    assert made.status_code == 201
    pledge_id = made.json()["id"]
    good = URLSafeTimedSerializer(settings.secret_key, salt="buurtkas.receipt").dumps(pledge_id)
    assert client.get(f"/receipts/{good}").status_code == 200
    forged = [
        str(pledge_id),
        URLSafeTimedSerializer(settings.secret_key, salt="buurtkas.voucher").dumps(
            pledge_id
        ),  # another cookie
        URLSafeTimedSerializer("een-ander-geheim-" * 3, salt="buurtkas.receipt").dumps(pledge_id),
        good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
        URLSafeTimedSerializer(settings.secret_key, salt="buurtkas.receipt").dumps(str(pledge_id)),
    ]
    for token in forged:
        assert client.get(f"/receipts/{token}").status_code == 404, token


def test_a_donation_status_page_needs_its_random_id(database_url: str, db: Database, world: World) -> None:
    conf = Settings(  # type: ignore[call-arg]
        **{**db.settings.model_dump(), "stripe_api_key": API_KEY, "stripe_webhook_secret": WEBHOOK_SECRET},
        _env_file=None,
    )
    public_id = secrets.token_urlsafe(16)
    with db.write() as session:
        donation = Donation(
            public_id=public_id,
            initiative_id=world.initiative_id,
            amount_cents=500,
            donor_name="Jan",
            status="open",
            checkout_session_id="cs_test_idor",
            payment_intent_id="pi_test_idor",
        )
        session.add(donation)
        session.flush()
        donation_id = donation.id
    with TestClient(create_app(conf, db)) as client:
        assert client.get(f"/donations/{public_id}", params={"auto": "0"}).status_code == 200
        for guess in (
            str(donation_id),
            f"{donation_id:010d}",
            str(world.initiative_id),
            "cs_test_idor",
            "pi_test_idor",
            public_id[:-1],
            public_id.upper() if public_id.upper() != public_id else public_id.lower(),
            secrets.token_urlsafe(16),
        ):
            assert client.get(f"/donations/{guess}", params={"auto": "0"}).status_code == 404, guess
    assert len(public_id) >= 20  # 128 random bits
