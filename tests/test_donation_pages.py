"""The donor's pages without JavaScript: the "Doneer extra" button, the donate form, the answer that sends the
donor to Stripe's payment page, and the status page Stripe sends the donor back to. Payments go through the
local Stripe fake and come back as signed webhooks, as in production."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from app.config import Settings
from app.db import Database
from app.donations.service import DonationsOff
from app.main import create_app
from app.models import Donation, DonationStatus, Initiative, InitiativeStatus
from tests.databases import test_settings
from tests.factories import World, make_initiative
from tests.pages_helpers import form_fields, soup
from tests.stripe_fake import StripeFake, event_body, free_port, sign
from tests.stripe_fixtures import stripe_settings


@pytest.fixture
def settings(database_url: str, stripe: StripeFake) -> Settings:
    return stripe_settings(database_url, stripe)


def donate_path(initiative_id: int) -> str:
    return f"/initiatives/{initiative_id}/donate"


def open_form(client: TestClient, initiative_id: int) -> dict[str, str]:
    page = client.get(donate_path(initiative_id))
    assert page.status_code == 200, page.text
    fields = form_fields(page, donate_path(initiative_id))
    fields.pop("amount", None)  # the radio buttons: none is chosen until the donor chooses
    return fields


def send(client: TestClient, initiative_id: int, **values: str) -> Any:
    fields = {**open_form(client, initiative_id), **values}
    return client.post(donate_path(initiative_id), data=fields, follow_redirects=False)


def donations(db: Database) -> list[Donation]:
    with db.read() as session:
        return list(session.scalars(select(Donation).order_by(Donation.id)))


def donation_count(db: Database) -> int:
    with db.read() as session:
        return int(session.execute(select(func.count()).select_from(Donation)).scalar_one())


def pay_and_confirm(client: TestClient, stripe: StripeFake, checkout_url: str) -> str:
    """Pay on the fake's payment page and deliver Stripe's signed success event; returns the status page path."""
    session = stripe.pay(checkout_url.rsplit("/", 1)[1])
    intent = stripe.payment_intent(session["payment_intent"])
    body = event_body("payment_intent.succeeded", intent)
    answer = client.post("/webhooks/stripe", content=body, headers={"Stripe-Signature": sign(body)})
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"].startswith("booked"), answer.json()
    return str(session["success_url"]).removeprefix(client.app.state.settings.base_url)  # type: ignore[attr-defined]


def donate_and_pay(client: TestClient, stripe: StripeFake, initiative_id: int, **values: str) -> str:
    answer = send(client, initiative_id, **values)
    assert answer.status_code == 303, answer.text
    return pay_and_confirm(client, stripe, answer.headers["location"])


def money_box(page: Any) -> BeautifulSoup:
    box = soup(page).select_one("section[aria-labelledby=money-heading]")
    assert box is not None
    return box


def text_of(page: Any, selector: str) -> str:
    element = soup(page).select_one(selector)
    return element.get_text(" ", strip=True) if element is not None else ""


def set_status(db: Database, initiative_id: int, status: InitiativeStatus) -> None:
    with db.write() as session:
        session.execute(update(Initiative).where(Initiative.id == initiative_id).values(status=status))


# ------------------------------------------------------------------------------------- the initiative page


def test_the_initiative_page_offers_donating(client: TestClient, world: World) -> None:
    page = client.get(f"/initiatives/{world.initiative_id}")
    link = soup(page).select_one(f"a[href='{donate_path(world.initiative_id)}']")
    assert link is not None and link.get_text(strip=True) == "Doneer extra"
    assert "iDEAL | Wero" in money_box(page).get_text()
    assert "Gedoneerd door" not in page.text and "van donateurs" not in page.text


def test_a_completed_initiative_takes_no_donations(client: TestClient, db: Database, world: World) -> None:
    set_status(db, world.initiative_id, InitiativeStatus.completed)
    page = client.get(f"/initiatives/{world.initiative_id}")
    assert page.status_code == 200
    assert soup(page).select_one(f"a[href='{donate_path(world.initiative_id)}']") is None
    form = client.get(donate_path(world.initiative_id))
    assert form.status_code == 409
    assert "neemt nu geen donaties aan" in text_of(form, "[role=alert]")
    answer = client.post(
        donate_path(world.initiative_id),
        data={"csrf_token": client.cookies.get("bk_csrf", ""), "amount": "10"},
        follow_redirects=False,
    )
    assert answer.status_code == 409
    assert donation_count(db) == 0


@pytest.mark.parametrize(
    "path", ["/initiatives/999999/donate", "/initiatives/abc/donate", "/initiatives/0/donate"]
)
def test_unknown_initiatives_are_not_found(client: TestClient, world: World, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404
    assert "<h1" in answer.text  # the app's error page, not JSON


def test_huge_initiative_ids_are_not_found(client: TestClient, world: World) -> None:
    for path in ("/initiatives/99999999999999999999999", f"/initiatives/{2**63}"):
        assert client.get(path).status_code == 404
        assert client.get(f"{path}/donate").status_code == 404
        assert client.post(f"{path}/donate", data={"amount": "10"}).status_code in (403, 422)


def test_a_draft_initiative_is_not_found(client: TestClient, db: Database, world: World) -> None:
    with db.write() as session:
        draft = make_initiative(session, world.settings, publish=False, title="Nog geheim")
    assert client.get(donate_path(draft)).status_code == 404
    fields = open_form(client, world.initiative_id)
    answer = client.post(donate_path(draft), data={**fields, "amount": "10"}, follow_redirects=False)
    assert answer.status_code == 404
    assert donation_count(db) == 0


# ------------------------------------------------------------------------------------- the form


def test_the_form_asks_amount_name_and_email_and_explains(client: TestClient, world: World) -> None:
    page = client.get(donate_path(world.initiative_id))
    assert page.status_code == 200
    html = soup(page)
    radios = html.select("input[type=radio][name=amount]")
    assert [radio["value"] for radio in radios] == ["5", "10", "25"]
    assert not any(radio.has_attr("checked") for radio in radios)
    labels = [radio.parent.get_text(strip=True) for radio in radios]
    assert labels == ["€ 5,00", "€ 10,00", "€ 25,00"]
    for name in ("amount_other", "donor_name", "email", "csrf_token"):
        assert html.select_one(f"input[name={name}]") is not None, name
    assert html.select_one("input[name=donor_name]")["maxlength"] == "70"
    assert html.select_one("label[for=donor_name]") is not None
    text = html.get_text(" ", strip=True)
    assert "Van € 1,00 tot € 500,00." in text
    assert "anoniem" in text
    assert "iDEAL | Wero" in text and "Stripe" in text
    assert "zodra de betaling bevestigd is" in text
    assert "vanzelf terug" in text
    assert page.headers["cache-control"] == "no-store"
    # Browsers apply form-action to the redirect after the post: Stripe's payment page must be allowed.
    csp = page.headers["content-security-policy"]
    assert "form-action 'self' https://checkout.stripe.com" in csp
    assert "script-src 'self';" in csp
    scripts = html.select("script")
    assert all(script.get("src", "").startswith("/static/js/") for script in scripts)
    assert "stripe.com/v3" not in page.text and "js.stripe.com" not in page.text


def test_after_cancelling_the_form_says_nothing_was_charged(client: TestClient, world: World) -> None:
    plain = client.get(donate_path(world.initiative_id))
    assert "niets afgeschreven" not in plain.text
    page = client.get(donate_path(world.initiative_id) + "?cancelled=1")
    assert page.status_code == 200
    assert "Er is niets afgeschreven" in text_of(page, "[role=status]")


REFUSED = [
    pytest.param({}, "amount", "Kies een bedrag of vul zelf een bedrag in.", id="no-amount"),
    pytest.param({"amount": "7"}, "amount", "Kies een bedrag", id="forged-choice"),
    pytest.param({"amount_other": "tien"}, "amount", "Vul een bedrag in euro in", id="letters"),
    pytest.param({"amount_other": "-5"}, "amount", "Vul een bedrag in euro in", id="negative"),
    pytest.param({"amount_other": "1e5"}, "amount", "Vul een bedrag in euro in", id="exponent"),
    pytest.param({"amount_other": "12,505"}, "amount", "Vul een bedrag in euro in", id="three-decimals"),
    pytest.param({"amount_other": "1.000,00"}, "amount", "Vul een bedrag in euro in", id="thousands"),
    pytest.param({"amount_other": "9" * 40}, "amount", "Vul een bedrag in euro in", id="huge"),
    pytest.param({"amount_other": "0"}, "amount", "Kies een bedrag van € 1,00 tot € 500,00.", id="zero"),
    pytest.param({"amount_other": "0,99"}, "amount", "€ 1,00 tot € 500,00", id="below"),
    pytest.param({"amount_other": "500,01"}, "amount", "€ 1,00 tot € 500,00", id="above"),
    pytest.param({"amount_other": "999999"}, "amount", "€ 1,00 tot € 500,00", id="far-above"),
    pytest.param({"amount": "10", "donor_name": "x" * 71}, "donor_name", "hoogstens 70 tekens", id="name-71"),
    pytest.param({"amount": "10", "donor_name": "y" * 10_000}, "donor_name", "70 tekens", id="name-10k"),
    pytest.param({"amount": "10", "donor_name": "Jan\x07"}, "donor_name", "70 tekens", id="name-control"),
    pytest.param({"amount": "10", "email": "geen-adres"}, "email", "klopt niet", id="email"),
    pytest.param(
        {"amount": "10", "email": "a@" + "b" * 250 + ".nl"}, "email", "e-mailadres", id="email-long"
    ),
]


@pytest.mark.parametrize(("values", "where", "message"), REFUSED)
def test_bad_input_is_explained_next_to_the_field_and_nothing_starts(
    client: TestClient,
    db: Database,
    stripe: StripeFake,
    world: World,
    values: dict[str, str],
    where: str,
    message: str,
) -> None:
    answer = send(client, world.initiative_id, **values)
    assert answer.status_code == 422, answer.text
    error = text_of(answer, f"#{where}-error")
    assert message in error
    html = soup(answer)
    field = html.select_one("#amount_other" if where == "amount" else f"#{where}")
    assert field is not None and field.get("aria-invalid") == "true"
    assert f"{where}-error" in str(field.get("aria-describedby"))
    for name, value in values.items():  # what the donor typed or chose is still there
        if name == "amount":
            chosen = html.select_one(f"input[name=amount][value='{value}']")
            assert chosen is None or chosen.has_attr("checked")
        else:
            kept = value.strip()[: {"donor_name": 200, "email": 320, "amount_other": 40}[name]]
            assert html.select_one(f"input[name={name}]")["value"] == kept
    assert donation_count(db) == 0
    assert not any(method == "POST" and path == "/v1/checkout/sessions" for method, path in stripe.requests)


@pytest.mark.parametrize("typed", ["12,50", "12.50", "€ 12,50", "€12,50", " 12,5 "])
def test_typed_amounts_in_dutch_or_english_notation(
    client: TestClient, db: Database, world: World, typed: str
) -> None:
    answer = send(client, world.initiative_id, amount_other=typed)
    assert answer.status_code == 303, answer.text
    assert [d.amount_cents for d in donations(db)] == [1_250]


def test_a_typed_amount_wins_over_a_quick_choice(client: TestClient, db: Database, world: World) -> None:
    assert send(client, world.initiative_id, amount="25", amount_other="12").status_code == 303
    assert [d.amount_cents for d in donations(db)] == [1_200]


def test_a_form_without_its_csrf_token_is_refused(client: TestClient, db: Database, world: World) -> None:
    fields = open_form(client, world.initiative_id)
    fields["csrf_token"] = "x" * 40
    answer = client.post(
        donate_path(world.initiative_id), data={**fields, "amount": "10"}, follow_redirects=False
    )
    assert answer.status_code == 403
    assert "verlopen" in text_of(answer, "[role=alert]")
    missing = client.post(donate_path(world.initiative_id), data={"amount": "10"}, follow_redirects=False)
    assert missing.status_code == 403
    assert donation_count(db) == 0


def test_a_form_post_that_is_not_a_form_is_refused_cleanly(
    client: TestClient, db: Database, world: World
) -> None:
    open_form(client, world.initiative_id)
    path = donate_path(world.initiative_id)
    assert (
        client.post(path, content=b"\xff\xfe\x00", headers={"Content-Type": "text/plain"}).status_code == 403
    )
    huge = client.post(path, data={"donor_name": "z" * 20_000}, follow_redirects=False)
    assert huge.status_code == 413
    assert donation_count(db) == 0


@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    amount=st.one_of(st.sampled_from(["5", "10", "25", ""]), st.text(max_size=12)),
    other=st.one_of(st.just(""), st.text(max_size=30), st.from_regex(r"\A-?\d{1,9}([.,]\d{0,3})?\Z")),
    name=st.text(max_size=90),
    email=st.one_of(st.just(""), st.emails(), st.text(max_size=40)),
)
def test_no_input_gives_a_server_error(
    client: TestClient, world: World, amount: str, other: str, name: str, email: str
) -> None:
    fields = open_form(client, world.initiative_id)
    fields.update(amount=amount, amount_other=other, donor_name=name, email=email)
    answer = client.post(donate_path(world.initiative_id), data=fields, follow_redirects=False)
    assert answer.status_code in (303, 422), (answer.status_code, fields)


# ------------------------------------------------------------------------------------- paying


def test_donate_pay_and_be_thanked_then_named_on_the_initiative(
    client: TestClient, db: Database, stripe: StripeFake, world: World
) -> None:
    answer = send(
        client, world.initiative_id, amount="10", donor_name="  Bakkerij   Jansen ", email="bakker@example.nl"
    )
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith(f"{stripe.api_base}/pay/cs_test_")
    [started] = donations(db)
    assert (started.status, started.amount_cents, started.donor_name) == (
        DonationStatus.open,
        1_000,
        "Bakkerij Jansen",
    )
    assert started.email == "bakker@example.nl" and started.locale == "nl"
    assert started.checkout_session_id == location.rsplit("/", 1)[1]

    waiting = client.get(f"/donations/{started.public_id}")
    assert waiting.status_code == 200
    assert text_of(waiting, "h1") == "We wachten op de bevestiging van uw betaling"
    refresh = soup(waiting).select_one("meta[http-equiv=refresh]")
    assert refresh is not None and refresh["content"] == "5"
    links = {a.get_text(strip=True): a["href"] for a in soup(waiting).select("main a")}
    assert links["Vernieuwen"] == f"/donations/{started.public_id}"
    assert waiting.headers["referrer-policy"] == "no-referrer"
    assert waiting.headers["cache-control"] == "no-store"
    still = client.get(f"/donations/{started.public_id}?auto=0")
    assert soup(still).select_one("meta[http-equiv=refresh]") is None
    assert text_of(still, "h1") == "We wachten op de bevestiging van uw betaling"

    status_path = pay_and_confirm(client, stripe, location)
    assert status_path == f"/donations/{started.public_id}"
    thanked = client.get(status_path)
    assert text_of(thanked, "h1") == "Dank u wel!"
    assert "Uw donatie van € 10,00 is binnen." in text_of(thanked, "[role=status]")
    assert soup(thanked).select_one("meta[http-equiv=refresh]") is None
    assert soup(thanked).select_one(f"main a[href='/initiatives/{world.initiative_id}']") is not None
    assert (
        "bakker@example.nl" not in thanked.text
        and "pi_" not in thanked.text
        and "cs_test" not in thanked.text
    )
    assert thanked.headers["referrer-policy"] == "no-referrer"

    page = client.get(f"/initiatives/{world.initiative_id}")
    box = money_box(page)
    assert "Waarvan € 10,00 van donateurs" in box.get_text(" ", strip=True)
    assert text_of(page, ".buurtkas-donors") == "Gedoneerd door: Bakkerij Jansen"
    assert "€ 10,00 van € 50,00 (20%)" in text_of(page, ".buurtkas-progress__text")


def test_anonymous_donors_are_counted_and_going_past_the_target_is_shown(
    client: TestClient, db: Database, stripe: StripeFake, world: World
) -> None:
    donate_and_pay(client, stripe, world.initiative_id, amount="25", donor_name="Fam. de Vries")
    donate_and_pay(client, stripe, world.initiative_id, amount="10")
    page = client.get(f"/initiatives/{world.initiative_id}")
    assert text_of(page, ".buurtkas-donors") == "Gedoneerd door: Fam. de Vries en 1 anonieme donateur"
    assert soup(page).select_one(".buurtkas-over") is None

    donate_and_pay(client, stripe, world.initiative_id, amount_other="22,50", donor_name="Bakkerij Jansen")
    donate_and_pay(client, stripe, world.initiative_id, amount="10", donor_name="")
    # 25 + 10 + 22.50 + 10 = € 67,50 of € 50,00: funded, and past the target thanks to donors.
    page = client.get(f"/initiatives/{world.initiative_id}")
    assert text_of(page, ".buurtkas-donors") == (
        "Gedoneerd door: Fam. de Vries, Bakkerij Jansen en 2 anonieme donateurs"
    )
    assert text_of(page, ".buurtkas-over").startswith("Doel gehaald: 135%")
    progress = soup(page).select_one("section[aria-labelledby=money-heading] progress")
    assert progress is not None
    assert (progress["value"], progress["max"]) == ("5000", "5000")  # the bar stops at full
    assert progress["aria-label"] == "Opgehaald: 135%"
    assert "Waarvan € 67,50 van donateurs" in money_box(page).get_text(" ", strip=True)
    with db.read() as session:
        assert session.get(Initiative, world.initiative_id).status == InitiativeStatus.funded  # type: ignore[union-attr]
    # A funded initiative still takes donations.
    assert soup(page).select_one(f"a[href='{donate_path(world.initiative_id)}']") is not None
    assert client.get(donate_path(world.initiative_id)).status_code == 200


def test_only_paid_donations_are_named(
    client: TestClient, db: Database, stripe: StripeFake, world: World
) -> None:
    assert send(client, world.initiative_id, amount="10", donor_name="Nog Niet Betaald").status_code == 303
    donate_and_pay(client, stripe, world.initiative_id, amount="5", donor_name="Wel Betaald")
    donate_and_pay(client, stripe, world.initiative_id, amount="5", donor_name="Wel Betaald")
    page = client.get(f"/initiatives/{world.initiative_id}")
    assert text_of(page, ".buurtkas-donors") == "Gedoneerd door: Wel Betaald"  # each name once
    assert "Nog Niet Betaald" not in page.text


def test_payment_page_unavailable_keeps_the_form(
    database_url: str, db: Database, stripe: StripeFake, world: World
) -> None:
    dead = stripe_settings(database_url, stripe, stripe_api_base=f"http://127.0.0.1:{free_port()}")
    with TestClient(create_app(dead, db)) as client:
        answer = send(client, world.initiative_id, amount="25", donor_name="Fam. de Vries")
    assert answer.status_code == 503
    assert "Er is niets afgeschreven" in text_of(answer, "[role=alert]")
    assert soup(answer).select_one("input[name=donor_name]")["value"] == "Fam. de Vries"
    assert soup(answer).select_one("input[name=amount][value='25']").has_attr("checked")
    assert [d.status for d in donations(db)] == [DonationStatus.failed]


# ------------------------------------------------------------------------------------- the status page


@pytest.mark.parametrize(
    ("status", "heading", "says"),
    [
        (DonationStatus.failed, "De betaling is niet gelukt", "Er is niets afgeschreven."),
        (DonationStatus.expired, "De betaling is niet gelukt", "Er is niets afgeschreven."),
        (DonationStatus.refunding, "Uw donatie wordt teruggestort", "wordt teruggestort"),
        (DonationStatus.refunded, "Uw donatie is teruggestort", "is teruggestort"),
    ],
)
def test_the_status_page_tells_what_became_of_the_donation(
    client: TestClient, db: Database, world: World, status: DonationStatus, heading: str, says: str
) -> None:
    answer = send(client, world.initiative_id, amount="5")
    assert answer.status_code == 303
    [started] = donations(db)
    with db.write() as session:
        session.execute(update(Donation).where(Donation.id == started.id).values(status=status))
    page = client.get(f"/donations/{started.public_id}")
    assert page.status_code == 200
    assert text_of(page, "h1") == heading
    assert says in text_of(page, "[role=status]")
    assert soup(page).select_one("meta[http-equiv=refresh]") is None
    retry = soup(page).select_one(f"main a[href='{donate_path(world.initiative_id)}']")
    assert (retry is not None) == (status in (DonationStatus.failed, DonationStatus.expired))


@pytest.mark.parametrize(
    "public_id", ["nope", "x" * 22, "A" * 32, "a" * 500, "%00%00%00%00%00%00%00%00%00%00%00", "ä" * 16]
)
def test_unknown_donations_are_not_found(client: TestClient, world: World, public_id: str) -> None:
    answer = client.get(f"/donations/{public_id}")
    assert answer.status_code == 404
    assert "Deze donatie bestaat niet." in text_of(answer, "[role=alert]")
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["cache-control"] == "no-store"


# ------------------------------------------------------------------------------------- donations switched off


@pytest.fixture
def client_without_stripe(database_url: str, db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(test_settings(database_url), db)) as test_client:
        yield test_client


def test_without_a_stripe_key_there_is_no_button_and_the_routes_are_not_found(
    client_without_stripe: TestClient, db: Database, world: World
) -> None:
    client = client_without_stripe
    page = client.get(f"/initiatives/{world.initiative_id}")
    assert page.status_code == 200
    assert soup(page).select_one(f"a[href='{donate_path(world.initiative_id)}']") is None
    assert "iDEAL" not in page.text and "Gedoneerd" not in page.text
    form = client.get(donate_path(world.initiative_id))
    assert form.status_code == 404
    assert DonationsOff.message in text_of(form, "[role=alert]")
    posted = client.post(donate_path(world.initiative_id), data={"amount": "10"}, follow_redirects=False)
    assert posted.status_code == 404
    assert DonationsOff.message in text_of(posted, "[role=alert]")
    api = client.post(f"/api/v1/initiatives/{world.initiative_id}/donations", json={"amount_cents": 1_000})
    assert api.status_code == 404
    assert api.json()["detail"] == DonationsOff.message
    assert donation_count(db) == 0
