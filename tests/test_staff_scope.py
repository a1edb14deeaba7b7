"""A wijkregisseur sees and acts only within their own wijken, by every back-office route.

The routes are not listed by hand: every `/staff` route the app has is tried, so a route added later is
covered too. All items here live in wijk WK014110 (Binnenstad); the director is responsible for WK014118
(Schelfhorst) only. Every path with an id is tried with the id of each of those items (and a guessed one),
by GET and by a forged POST that carries a valid CSRF token: each answer must be 403 or 404, and nothing in
the database may change. Every list, filter and export must leave the items out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import product
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.config import Settings
from app.db import Database
from app.initiatives.service import transition
from app.kit.clock import today
from app.models import (
    Household,
    Initiative,
    InitiativeStatus,
    NewsKind,
    Payout,
    PayoutBatch,
    PayoutStatus,
    Voucher,
)
from app.models.base import utcnow
from app.news.service import post_news
from tests.dbstate import snapshot
from tests.factories import World, area_id, make_initiative
from tests.pages_helpers import form_fields
from tests.race_helpers import pledge
from tests.staff_helpers import make_staff, staff_browser

SECRET = "GEHEIM-BINNENSTAD"
# Tables a refused request may still touch: the director's session (idle time), counters and the audit log
# (refusals may be recorded).
VOLATILE = ("rate_counters", "staff_sessions", "audit_events")
PUBLIC = ("/staff/login", "/staff/logout", "/staff/invite")


@dataclass
class Binnenstad:
    ids: list[int]
    """Ids of initiatives, payouts, batches, news and staff: all in WK014110 (or admin-only)."""
    address_ids: list[int]
    """Ids of households in WK014110 and of their vouchers (households elsewhere have the same kind of ids)."""
    areas: list[str]

    def candidates(self, path: str) -> list[int]:
        return self.address_ids if path.startswith(("/staff/vouchers", "/staff/households")) else self.ids


@pytest.fixture
def binnenstad(client: TestClient, db: Database, settings: Settings, world: World) -> Binnenstad:
    """A submitted, a published and a funded initiative with an approved, exported payout, and news, all in
    wijk WK014110; ids of every kind of item there."""
    admin = make_staff(db, settings, email="beheer@almelo.nl", role="admin", wijken=())
    with db.write() as session:
        submitted = make_initiative(session, settings, publish=False, title=f"{SECRET} ingediend")
        transition(session, submitted, InitiativeStatus.submitted, actor="test", today=today())
        funded = make_initiative(session, settings, target_cents=5_000, title=f"{SECRET} gehaald")
        session.execute(
            update(Initiative).where(Initiative.id == world.initiative_id).values(title=f"{SECRET} open")
        )
    for code in world.codes[:7]:
        assert pledge(client, code, funded).status_code == 201
    with db.write() as session:
        session.execute(
            update(Initiative)
            .where(Initiative.id == funded)
            .values(payout_iban="NL91ABNA0417164300", payout_account_holder="Buurtvereniging")
        )
        batch = PayoutBatch(
            message_id="BK-SCOPE-1",
            created_by_staff_id=admin,
            payment_count=1,
            total_cents=5_000,
            sepa_xml="<Document/>",
        )
        session.add(batch)
        session.flush()
        payout = Payout(
            initiative_id=funded,
            amount_cents=5_000,
            iban="NL91ABNA0417164300",
            account_holder="Buurtvereniging",
            status=PayoutStatus.exported,
            approved_by_staff_id=admin,
            batch_id=batch.id,
            exported_at=utcnow(),
            end_to_end_id="BK-SCOPE-E2E-1",
        )
        session.add(payout)
        news = post_news(
            session,
            area_id=area_id(session, "BU01411000"),
            kind=NewsKind.post,
            title=f"{SECRET} nieuws",
            body="Alleen voor de Binnenstad.",
        )
        update_item = post_news(
            session,
            area_id=area_id(session, "BU01411001"),
            kind=NewsKind.update,
            title=f"{SECRET} update",
            body="Een update.",
            initiative_id=world.initiative_id,
        )
        session.flush()
        status = session.scalar(select(Initiative.status).where(Initiative.id == funded))
        assert status == InitiativeStatus.funded
        ids = sorted({submitted, funded, world.initiative_id, batch.id, payout.id, news, update_item, admin})
        binnen = [area_id(session, code) for code in ("BU01411000", "BU01411001")]
        addresses = session.execute(
            select(Household.id, Voucher.id)
            .join(Voucher, Voucher.household_id == Household.id)
            .where(Household.buurt_id.in_(binnen))
            .order_by(Household.id)
            .limit(3)
        ).all()
    address_ids = sorted({number for row in addresses for number in row})
    return Binnenstad(
        ids=[*ids, 987_654],
        address_ids=[*address_ids, 987_654],
        areas=["WK014110", "BU01411000", "BU01411001"],
    )


def all_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """Every API route with its full path (FastAPI keeps included routers as their own objects)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            yield from all_routes(inner.routes, prefix + (getattr(context, "prefix", "") or ""))


def staff_routes(client: TestClient) -> list[tuple[str, str]]:
    found = []
    for path, route in all_routes(client.app.routes):  # type: ignore[attr-defined]
        if path.startswith("/staff") and not path.startswith(PUBLIC):
            found += [(method, path) for method in sorted(route.methods or ()) if method in ("GET", "POST")]
    return sorted(set(found))


def filled(path: str, values: tuple[int, ...]) -> str:
    it = iter(values)
    return re.sub(r"\{[^}]+\}", lambda _m: str(next(it)), path)


def test_the_back_office_has_routes_with_ids_to_try(client: TestClient) -> None:
    with_ids = [path for _method, path in staff_routes(client) if "{" in path]
    assert len(with_ids) >= 10, with_ids


def test_a_director_cannot_open_or_change_another_wijks_items_by_any_route(
    client: TestClient, db: Database, settings: Settings, binnenstad: Binnenstad
) -> None:
    director = staff_browser(
        client, db, make_staff(db, settings, email="schelfhorst@almelo.nl", wijken=("WK014118",))
    )
    token = form_fields(director.get("/staff"), "/staff/logout")["csrf_token"]
    before = snapshot(db, skip=VOLATILE)
    leaks = []
    for method, path in staff_routes(client):
        params = path.count("{")
        if not params:
            continue
        for values in product(binnenstad.candidates(path), repeat=params):
            url = filled(path, values)
            if method == "GET":
                answer = director.get(url, follow_redirects=False)
            else:
                form = {
                    "csrf_token": token,
                    "reason": "weg ermee",
                    "message": "x",
                    "confirm": "1",
                    "codes": "AAAA",
                }
                answer = director.post(url, data=form, follow_redirects=False)
            if answer.status_code not in (403, 404):
                leaks.append(f"{method} {url} -> {answer.status_code}")
            assert SECRET not in answer.text, f"{method} {url} shows a Binnenstad item"
    assert not leaks, "\n".join(leaks)
    assert snapshot(db, skip=VOLATILE) == before


def test_lists_filters_and_exports_leave_other_wijken_out(
    client: TestClient, db: Database, settings: Settings, binnenstad: Binnenstad
) -> None:
    director = staff_browser(
        client, db, make_staff(db, settings, email="schelfhorst@almelo.nl", wijken=("WK014118",))
    )
    queries = [
        "",
        *(f"?area={code}" for code in binnenstad.areas),
        *(f"?initiative={i}" for i in binnenstad.ids),
    ]
    queries += ["?status=submitted", "?status=funded", "?kind=update", "?q=GEHEIM"]
    for method, path in staff_routes(client):
        if method != "GET" or "{" in path:
            continue
        for query in queries:
            answer = director.get(path + query, follow_redirects=False)
            assert answer.status_code < 500, f"{path}{query} -> {answer.status_code}"
            assert SECRET not in answer.text, f"GET {path}{query} shows a Binnenstad item"


def test_an_admin_does_see_them(
    client: TestClient, db: Database, settings: Settings, binnenstad: Binnenstad
) -> None:
    admin = staff_browser(
        client, db, make_staff(db, settings, email="tweede@almelo.nl", role="admin", wijken=())
    )
    assert SECRET in admin.get("/staff/initiatives").text
    assert SECRET in admin.get("/staff/news").text
