"""`buurtkas demo`: a believable Almelo-like municipality to try Buurtkas with.

Everything goes through the same services as real data (CSV import, period opening, pledges, the state
machine), in one transaction, so the demo also proves the ledger: `buurtkas ledger verify` is green after it.
"""

from __future__ import annotations

import csv
import random
import tempfile
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from app.areas import repository as areas
from app.areas.service import import_areas
from app.config import Settings
from app.db import Database
from app.demo.content import AREAS_CSV, INITIATIVES, NEWS, generate_households
from app.demo.donations import add_donations
from app.demo.pictures import picture
from app.demo.staff import load_staff, staff_lines
from app.households.service import COLUMNS as HOUSEHOLD_COLUMNS
from app.households.service import import_households
from app.initiatives.photos import store_photo
from app.initiatives.service import NewInitiative, create_initiative, transition
from app.kit.clock import today as amsterdam_today
from app.migrate import upgrade
from app.models import (
    Area,
    Household,
    Initiative,
    InitiativeStatus,
    LedgerAccount,
    NewsKind,
    Voucher,
    VoucherPeriod,
    VoucherStatus,
)
from app.models.base import utcnow
from app.news.service import post_news
from app.pledges.service import pledge_from_voucher
from app.vouchers import repository as vouchers
from app.vouchers.printbatch import CodesFile
from app.vouchers.service import open_period, reissue

ACTOR = "demo"
SHOWN_CODES = 5


def period_name(day: date) -> str:
    return f"{'Voorjaar' if 3 <= day.month <= 8 else 'Najaar'} {day.year if day.month >= 3 else day.year - 1}"


def load_demo(db: Database, settings: Settings, *, households: int, codes_out: Path) -> list[str]:
    """Load the demo (or, when it is there already, reissue a few vouchers); returns lines to print."""
    upgrade(settings)
    today = amsterdam_today()
    with db.read() as session:
        loaded = session.scalar(select(func.count()).select_from(Area)) or 0
    if loaded:
        return _fresh_codes(db, settings, today)

    codes: dict[int, str] = {}
    with tempfile.TemporaryDirectory() as tmp, CodesFile(codes_out, overwrite=True) as codes_file:
        addresses = Path(tmp) / "households.csv"
        with addresses.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=HOUSEHOLD_COLUMNS)
            writer.writeheader()
            writer.writerows(generate_households(households))

        def sink(household: Row[Any], code: str) -> None:
            codes[household.id] = code
            codes_file.write(household, code)

        def work(session: Session) -> str:
            import_areas(session, AREAS_CSV, actor=ACTOR)
            import_households(session, addresses, actor=ACTOR)
            name = period_name(today)
            open_period(
                session,
                name=name,
                starts_on=today - timedelta(days=30),
                ends_on=today + timedelta(days=150),
                value_cents=settings.default_voucher_value_cents,
                actor=ACTOR,
                today=today,
                sink=sink,
            )
            _initiatives(session, settings, today)
            _news(session, utcnow())
            load_staff(session)
            return name

        name = db.run_write(work, attempts=1)
        codes_file.commit()

    with db.read() as session:
        untouched = _untouched_vouchers(session, settings.default_voucher_value_cents, limit=SHOWN_CODES)
    lines = [
        f"demo loaded: gemeente Almelo, {households} households, period {name!r}, {len(INITIATIVES)} initiatives",
        f"all {len(codes)} voucher codes are in {codes_out} (a demo convenience: real codes exist only in the print batch)",
        "a few unused voucher codes to try:",
    ]
    lines += [f"  {codes[h]}" for h, _ in untouched]
    return [*lines, *_try_it(settings, codes[untouched[0][0]] if untouched else ""), *staff_lines(settings)]


def _try_it(settings: Settings, code: str) -> list[str]:
    return [
        "open one as a household would (the letter's QR code points here):",
        f"  {settings.base_url}/v/{code}",
        "or ask the API (OpenAPI at /openapi.json):",
        f"  curl -s -X POST {settings.base_url}/api/v1/vouchers/check -H 'content-type: application/json' "
        f"""-d '{{"code": "{code}"}}'""",
    ]


def _initiatives(session: Session, settings: Settings, today: date) -> None:
    rng = random.Random(141)
    period_id = session.scalar(select(VoucherPeriod.id).order_by(VoucherPeriod.id.desc()))
    pool = list(
        session.execute(
            select(Voucher.id, Household.buurt_id)
            .join(Household, Household.id == Voucher.household_id)
            .where(Voucher.period_id == period_id)
            .order_by(Voucher.id)
        ).all()
    )
    rng.shuffle(pool)
    used: set[int] = set()
    # A small demo (`--households 200`) holds too little voucher value for the full-size targets: scale
    # them down so the funded and completed examples can still reach theirs.
    needed = sum(int(spec["target_cents"]) * _demo_share(spec) for spec in INITIATIVES)
    scale = min(1.0, 0.6 * len(pool) * settings.default_voucher_value_cents / needed) if needed else 1.0
    for spec in INITIATIVES:
        state = InitiativeStatus(spec["state"])
        days_left = int(spec.get("days_left") or 0)
        target_cents = max(
            settings.initiative_min_target_cents, round(int(spec["target_cents"]) * scale / 100) * 100
        )
        initiative_id = create_initiative(
            session,
            NewInitiative(
                title=spec["title"],
                area_code=spec["area_code"],
                target_cents=target_cents,
                deadline=today
                + timedelta(days=max(days_left, 1) if state == InitiativeStatus.published else 60),
                summary=spec["summary"],
                description=spec["description"],
                category=spec["category"],
                initiator_name=spec.get("initiator", ""),
                budget_lines=_scaled_lines(spec["budget_lines"], target_cents),
            ),
            settings=settings,
            actor=ACTOR,
            today=today,
        )
        image, alt = picture(spec["category"], seed=initiative_id)
        store_photo(
            session, settings.media_dir, initiative_id=initiative_id, position=0, image=image, alt_text=alt
        )
        if state == InitiativeStatus.draft:
            continue
        transition(session, initiative_id, InitiativeStatus.submitted, actor=ACTOR, today=today)
        if state == InitiativeStatus.submitted:
            continue
        transition(
            session, initiative_id, InitiativeStatus.published, actor=ACTOR, reason="demo", today=today
        )
        goal = round(target_cents * _demo_share(spec))
        _pledge_until(session, settings, today, rng, initiative_id, goal, pool, used, spec["area_code"])
        if state == InitiativeStatus.published:
            add_donations(session, settings, initiative_id, rng)
        funded = (
            session.scalar(select(Initiative.status).where(Initiative.id == initiative_id))
            == InitiativeStatus.funded
        )
        if state == InitiativeStatus.completed and funded:  # too few households: it stays published
            transition(
                session, initiative_id, InitiativeStatus.completed, actor=ACTOR, reason="demo", today=today
            )
        elif state == InitiativeStatus.expired:
            transition(
                session,
                initiative_id,
                InitiativeStatus.expired,
                actor=ACTOR,
                reason="deadline passed",
                today=today,
            )


def _scaled_lines(lines: list[dict[str, Any]], target_cents: int) -> tuple[tuple[str, int], ...]:
    """The example budget scaled to the (possibly scaled) target; the last line takes the rounding."""
    total = sum(int(line["amount_cents"]) for line in lines)
    scaled = [(line["description"], int(line["amount_cents"]) * target_cents // total) for line in lines]
    rest = target_cents - sum(amount for _, amount in scaled)
    description, amount = scaled[-1]
    return (*scaled[:-1], (description, amount + rest))


def _news(session: Session, now: datetime) -> None:
    for item in NEWS:
        area = areas.by_code(session, item["area_code"])
        if area is None:
            continue
        post_news(
            session,
            area_id=area.id,
            kind=NewsKind.post,
            title=item["title"],
            body=item["body"],
            author_name="Wijkregisseur",
            published_at=now - timedelta(days=int(item["days_ago"])),
        )


def _demo_share(spec: dict[str, Any]) -> float:
    """The part of its target an example initiative has raised in the demo."""
    state = InitiativeStatus(spec["state"])
    if state in (InitiativeStatus.draft, InitiativeStatus.submitted):
        return 0.0
    if state in (InitiativeStatus.funded, InitiativeStatus.completed):
        return 1.0
    if state == InitiativeStatus.expired:
        return 0.4
    return float(spec["funded_share"])


def _pledge_until(
    session: Session,
    settings: Settings,
    today: date,
    rng: random.Random,
    initiative_id: int,
    goal_cents: int,
    pool: Sequence[Row[tuple[int, int]]] | Sequence[Any],
    used: set[int],
    area_code: str,
) -> None:
    area = areas.by_code(session, area_code)
    assert area is not None
    nearby = set(areas.descendant_ids(session, area.id))
    # Households in the initiative's own area give first, as they would.
    candidates = [row for row in pool if row.buurt_id in nearby] + [
        row for row in pool if row.buurt_id not in nearby
    ]
    raised = 0
    for row in candidates:
        if raised >= goal_cents:
            break
        if row.id in used:
            continue
        voucher = vouchers.find_by_id(session, row.id)
        if voucher is None or voucher.balance_cents <= 0:
            continue
        amount = rng.choice([None, None, None, 500, 250]) if goal_cents - raised > 750 else None
        amount = min(amount, voucher.balance_cents) if amount else None
        result = pledge_from_voucher(
            session,
            voucher=voucher,
            initiative_id=initiative_id,
            amount_cents=amount,
            settings=settings,
            today=today,
            actor=ACTOR,
        )
        raised += result.amount_cents
        used.add(row.id)


def _untouched_vouchers(session: Session, value_cents: int, *, limit: int) -> list[tuple[int, int]]:
    """(household id, voucher id) of live vouchers that still hold their full value."""
    rows = session.execute(
        select(Voucher.household_id, Voucher.id)
        .join(LedgerAccount, LedgerAccount.voucher_id == Voucher.id)
        .where(Voucher.status == VoucherStatus.active, LedgerAccount.balance_cents == value_cents)
        .order_by(Voucher.id)
        .limit(limit)
    ).all()
    return [(int(h), int(v)) for h, v in rows]


def _fresh_codes(db: Database, settings: Settings, today: date) -> list[str]:
    """The demo is there already and codes are never stored: reissue a few unused vouchers to print."""

    def work(session: Session) -> list[str]:
        lines = []
        for _household, voucher_id in _untouched_vouchers(
            session, settings.default_voucher_value_cents, limit=SHOWN_CODES
        ):
            _new_id, code = reissue(session, voucher_id=voucher_id, actor=ACTOR, today=today)
            lines.append(f"  {code}")
        return lines

    codes = db.run_write(work, attempts=1)
    header = "demo already loaded; codes are never stored, so these vouchers were reissued for you:"
    return [header, *codes, *_try_it(settings, codes[0].strip() if codes else ""), *staff_lines(settings)]
