"""The rules of a pledge (SPEC §2), at the service."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.config import Settings, VoucherScope
from app.db import Database
from app.initiatives.errors import InitiativeAlreadyFunded, InitiativeNotFound, InitiativeNotOpen
from app.kit.clock import today
from app.models import InitiativeTransition
from app.pledges.errors import OutsideVoucherArea, PledgeTooSmall
from app.pledges.service import PledgeResult, create_pledge
from app.vouchers.errors import VoucherEmpty, VoucherInsufficient
from tests.databases import test_settings
from tests.factories import World, make_initiative


def give(
    db: Database, settings: Settings, code: str, initiative_id: int, amount: int | None = None
) -> PledgeResult:
    return db.run_write(
        lambda s: create_pledge(
            s, code=code, initiative_id=initiative_id, amount_cents=amount, settings=settings, today=today()
        )
    )


def test_default_amount_is_the_whole_balance(db: Database, world: World) -> None:
    result = give(db, world.settings, world.codes[0], world.initiative_id)
    assert (result.amount_cents, result.voucher_balance_cents, result.raised_cents) == (750, 0, 750)


def test_split_over_several_initiatives(db: Database, world: World, settings: Settings) -> None:
    other = db.run_write(lambda s: make_initiative(s, settings, title="Tweede initiatief"))
    assert give(db, settings, world.codes[0], world.initiative_id, 250).voucher_balance_cents == 500
    assert give(db, settings, world.codes[0], other).amount_cents == 500
    with pytest.raises(VoucherEmpty):
        give(db, settings, world.codes[0], other)


def test_amount_above_what_is_needed_is_lowered_and_funds(
    db: Database, world: World, settings: Settings
) -> None:
    small = db.run_write(lambda s: make_initiative(s, settings, target_cents=5_100, title="Klein"))
    for code in world.codes[:6]:
        give(db, settings, code, small)  # 6 × 750 = 4500
    result = give(db, settings, world.codes[6], small, 700)
    assert (result.amount_cents, result.voucher_balance_cents, result.status) == (600, 150, "funded")
    assert result.raised_cents == result.target_cents == 5_100
    with pytest.raises(InitiativeAlreadyFunded):
        give(db, settings, world.codes[7], small)
    with db.read() as session:
        last = session.execute(
            select(InitiativeTransition.from_status, InitiativeTransition.to_status)
            .where(InitiativeTransition.initiative_id == small)
            .order_by(InitiativeTransition.id.desc())
        ).first()
    assert tuple(last or ()) == ("published", "funded")


def test_below_one_euro_only_when_it_empties_the_voucher(db: Database, world: World) -> None:
    with pytest.raises(PledgeTooSmall):
        give(db, world.settings, world.codes[0], world.initiative_id, 99)
    give(db, world.settings, world.codes[0], world.initiative_id, 700)
    assert give(db, world.settings, world.codes[0], world.initiative_id, 50).voucher_balance_cents == 0


def test_more_than_the_balance_moves_nothing(db: Database, world: World) -> None:
    with pytest.raises(VoucherInsufficient):
        give(db, world.settings, world.codes[0], world.initiative_id, 751)
    assert give(db, world.settings, world.codes[0], world.initiative_id).amount_cents == 750


def test_only_published_initiatives_take_pledges(db: Database, world: World, settings: Settings) -> None:
    draft = db.run_write(lambda s: make_initiative(s, settings, publish=False, title="Nog een concept"))
    with pytest.raises(InitiativeNotFound):
        give(db, settings, world.codes[0], draft)
    with pytest.raises(InitiativeNotFound):
        give(db, settings, world.codes[0], 987_654)


def test_deadline_passed_is_not_open(db: Database, world: World) -> None:
    from datetime import timedelta

    from app.pledges.service import create_pledge as pledge_service

    with pytest.raises(InitiativeNotOpen):
        db.run_write(
            lambda s: pledge_service(
                s,
                code=world.codes[0],
                initiative_id=world.initiative_id,
                amount_cents=None,
                settings=world.settings,
                today=today() + timedelta(days=31),
            )
        )


@pytest.mark.parametrize(
    ("scope", "area", "allowed"),
    [
        ("gemeente", "BU01411800", True),  # another wijk's buurt: fine by default
        ("wijk", "BU01411001", True),  # another buurt in the same wijk
        ("wijk", "BU01411800", False),  # a buurt in another wijk
        ("wijk", "GM0141", True),  # gemeentebreed is for everyone
        ("buurt", "BU01411000", True),  # its own buurt
        ("buurt", "WK014110", True),  # its own wijk
        ("buurt", "BU01411001", False),  # the neighbouring buurt
    ],
)
def test_voucher_scope(
    db: Database, world: World, database_url: str, scope: str, area: str, allowed: bool
) -> None:
    settings = test_settings(database_url, voucher_scope=VoucherScope(scope))
    initiative = db.run_write(
        lambda s: make_initiative(s, settings, area_code=area, title="Ergens in Almelo")
    )
    # Household 3 lives in BU01411000 (households are spread over the three buurten in turn).
    code = next(code for household, code in world.codes_by_household.items() if household % 3 == 0)
    if allowed:
        assert give(db, settings, code, initiative).amount_cents == 750
    else:
        with pytest.raises(OutsideVoucherArea):
            give(db, settings, code, initiative)
