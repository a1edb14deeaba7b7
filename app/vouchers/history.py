"""A household's vouchers by address, for the back office: every voucher per period with its status,
balance, what it gave and what replaced it. Voucher codes never appear: only their keyed hashes are stored.

Looking a household up is access to personal data: the page records it in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import InvalidInput, NotFound
from app.kit.postcode import normalize_postcode
from app.models import Area, Household, Initiative, LedgerAccount, Pledge, Voucher, VoucherPeriod
from app.staff.scope import Scope
from app.vouchers.repository import VoucherView

NOT_FOUND_NL = "Op dit adres vonden we geen huishouden in uw wijken. Kijk of postcode en huisnummer kloppen."
NOT_FOUND_EN = "We found no household at this address in your wijken. Check the postcode and house number."


class AddressInvalid(InvalidInput):
    slug = "address-invalid"
    title = "Adres klopt niet"
    title_en = "Address is not valid"


class HouseholdNotFound(NotFound):
    """Not there, or outside the staff member's wijken: one answer for both."""

    slug = "household-not-found"
    message = NOT_FOUND_NL
    message_en = NOT_FOUND_EN


@dataclass(frozen=True)
class Address:
    postcode: str
    huisnummer: int
    huisletter: str = ""
    toevoeging: str = ""

    def as_query(self) -> dict[str, str]:
        return {
            "postcode": self.postcode,
            "huisnummer": str(self.huisnummer),
            "huisletter": self.huisletter,
            "toevoeging": self.toevoeging,
        }


def parse_address(postcode: str, huisnummer: str, huisletter: str = "", toevoeging: str = "") -> Address:
    """A Dutch address as typed at the counter; AddressInvalid with a plain reason otherwise."""
    normal = normalize_postcode(postcode[:10])
    if normal is None:
        raise AddressInvalid(
            "Vul een geldige postcode in, zoals 7607 AB.", "Enter a valid postcode, such as 7607 AB."
        )
    number = huisnummer.strip()
    if not (number.isdigit() and number.isascii() and 0 < int(number[:6]) <= 99_999 and len(number) <= 5):
        raise AddressInvalid("Vul een huisnummer in (alleen cijfers).", "Enter a house number (digits only).")
    letter = huisletter.strip().upper()
    if len(letter) > 1 or (letter and not (letter.isalpha() and letter.isascii())):
        raise AddressInvalid("Een huisletter is één letter.", "A house letter is a single letter.")
    addition = toevoeging.strip().upper()
    if len(addition) > 4 or (addition and not (addition.isalnum() and addition.isascii())):
        raise AddressInvalid(
            "Een toevoeging heeft hoogstens 4 letters of cijfers.",
            "An addition has at most 4 letters or digits.",
        )
    return Address(normal, int(number), letter, addition)


@dataclass(frozen=True)
class HouseholdView:
    id: int
    postcode: str
    huisnummer: int
    huisletter: str
    toevoeging: str
    straat: str
    woonplaats: str
    active: bool
    buurt_id: int
    buurt_name: str
    buurt_code: str

    @property
    def address(self) -> Address:
        return Address(self.postcode, self.huisnummer, self.huisletter, self.toevoeging)


@dataclass(frozen=True)
class PledgeLine:
    initiative_id: int
    initiative_title: str
    amount_cents: int
    created_at: datetime
    returned_at: datetime | None


@dataclass
class VoucherLine:
    id: int
    period_id: int
    period_name: str
    period_ends_on: date
    status: str
    """As the household sees it today (an active voucher past its period's end is expired)."""
    is_current: bool
    face_value_cents: int
    balance_cents: int
    issued_at: datetime
    replaced_by_id: int | None
    replaces_id: int | None = None
    pledges: list[PledgeLine] = field(default_factory=list)


_HOUSEHOLD = select(
    Household.id,
    Household.postcode,
    Household.huisnummer,
    Household.huisletter,
    Household.toevoeging,
    Household.straat,
    Household.woonplaats,
    Household.active,
    Household.buurt_id,
    Area.name,
    Area.code,
).join(Area, Area.id == Household.buurt_id)


def find_household(session: Session, scope: Scope, address: Address) -> HouseholdView:
    """The household at this address, if in scope (by its buurt); HouseholdNotFound otherwise."""
    row = session.execute(
        _HOUSEHOLD.where(
            Household.postcode == address.postcode,
            Household.huisnummer == address.huisnummer,
            Household.huisletter == address.huisletter,
            Household.toevoeging == address.toevoeging,
        )
    ).one_or_none()
    if row is None or not scope.allows(row.buurt_id):
        raise HouseholdNotFound()
    return HouseholdView(*row)


def household_by_id(session: Session, scope: Scope, household_id: int) -> HouseholdView:
    row = session.execute(_HOUSEHOLD.where(Household.id == household_id)).one_or_none()
    if row is None or not scope.allows(row.buurt_id):
        raise HouseholdNotFound()
    return HouseholdView(*row)


def voucher_in_scope(scope: Scope, voucher: VoucherView | None) -> VoucherView:
    """The voucher, if its household lies in scope; HouseholdNotFound otherwise (also when it is unknown)."""
    if voucher is None or not scope.allows(voucher.buurt_id):
        raise HouseholdNotFound()
    return voucher


def history(session: Session, household_id: int, *, today: date) -> list[VoucherLine]:
    """Every voucher of the household, newest period first, each with its pledges."""
    rows = session.execute(
        select(
            Voucher.id,
            Voucher.period_id,
            VoucherPeriod.name,
            VoucherPeriod.ends_on,
            Voucher.status,
            Voucher.is_current,
            VoucherPeriod.value_cents,
            LedgerAccount.balance_cents,
            Voucher.issued_at,
            Voucher.replaced_by_id,
        )
        .join(VoucherPeriod, VoucherPeriod.id == Voucher.period_id)
        .join(LedgerAccount, LedgerAccount.voucher_id == Voucher.id)
        .where(Voucher.household_id == household_id)
        .order_by(
            VoucherPeriod.starts_on.desc(),
            VoucherPeriod.id.desc(),
            Voucher.issued_at.desc(),
            Voucher.id.desc(),
        )
    ).all()
    lines: dict[int, VoucherLine] = {}
    for row in rows:
        status = row.status
        if status == "active" and row.ends_on < today:
            status = "expired"
        lines[row.id] = VoucherLine(
            id=row.id,
            period_id=row.period_id,
            period_name=row.name,
            period_ends_on=row.ends_on,
            status=status,
            is_current=bool(row.is_current),
            face_value_cents=row.value_cents,
            balance_cents=row.balance_cents,
            issued_at=row.issued_at,
            replaced_by_id=row.replaced_by_id,
        )
    for line in lines.values():
        if line.replaced_by_id in lines:
            lines[line.replaced_by_id].replaces_id = line.id
    if lines:
        pledges = session.execute(
            select(
                Pledge.voucher_id,
                Pledge.initiative_id,
                Initiative.title,
                Pledge.amount_cents,
                Pledge.created_at,
                Pledge.returned_at,
            )
            .join(Initiative, Initiative.id == Pledge.initiative_id)
            .where(Pledge.voucher_id.in_(list(lines)))
            .order_by(Pledge.created_at, Pledge.id)
        ).all()
        for pledge in pledges:
            lines[pledge.voucher_id].pledges.append(PledgeLine(*pledge[1:]))
    return list(lines.values())
