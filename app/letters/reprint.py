"""Reprinting letters: a new code for each address in a list (or for one address).

Plaintext codes are never stored, so a reprint is a reissue: the old code stops working and the
balance moves to the new code (app/vouchers/service.py `reissue`). The whole list is one transaction:
any address that cannot be reissued stops it before anything changes, and the error lists them all by
line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from app.kit.csvfile import CsvError, read_rows
from app.letters.errors import AddressListError
from app.letters.layout import PeriodFacts
from app.models import PeriodStatus
from app.vouchers import repository, service
from app.vouchers.history import Address, AddressInvalid, parse_address

ADDRESS_COLUMNS = ("postcode", "huisnummer", "huisletter", "toevoeging")

LetterSink = Callable[[Row[Any], str, int], None]
"""Receives each household's row, its new code and the balance that moved to it."""


@dataclass(frozen=True)
class AddressLine:
    label: str
    """Where the address came from, for errors: `line 3`, or the address itself."""
    address: Address | None
    """None for a line that is not an address; `problem` says why."""
    problem: str = ""

    @property
    def key(self) -> repository.AddressKey:
        a = self.address
        assert a is not None
        return (a.postcode, a.huisnummer, a.huisletter, a.toevoeging)


def describe(address: Address) -> str:
    """`7601 AB 12A-2`"""
    number = f"{address.huisnummer}{address.huisletter}"
    if address.toevoeging:
        number += f"-{address.toevoeging}"
    return f"{address.postcode[:4]} {address.postcode[4:]} {number}"


def read_address_list(path: Path) -> list[AddressLine]:
    """The lines of a CSV with the columns postcode, huisnummer, huisletter, toevoeging (others are
    ignored, so a codes CSV will do). A line that is not an address is kept with its problem, so that
    `reprint` reports it together with the addresses it cannot reissue."""
    lines: list[AddressLine] = []
    try:
        for number, row in read_rows(path, ADDRESS_COLUMNS):
            label = f"line {number}"
            try:
                address = parse_address(
                    row["postcode"], row["huisnummer"], row["huisletter"], row["toevoeging"]
                )
            except AddressInvalid as exc:
                lines.append(AddressLine(label, None, exc.detail_en))
                continue
            lines.append(AddressLine(label, address))
    except CsvError as exc:
        raise AddressListError(exc.problems) from exc
    if not lines:
        raise AddressListError(["the file holds no addresses"])
    return lines


def period_facts(session: Session, name: str) -> PeriodFacts:
    """What the letters say about the period; AddressListError when there is no such period."""
    period = repository.period_by_name(session, name.strip())
    if period is None:
        raise AddressListError([f"there is no period {name.strip()!r}"])
    return PeriodFacts(name=period.name, ends_on=period.ends_on, value_cents=period.value_cents)


def reprint(
    session: Session,
    lines: list[AddressLine],
    *,
    period: PeriodFacts,
    actor: str,
    today: date,
    sink: LetterSink,
) -> int:
    """Reissue the live voucher in `period` at every address, in mail-house order, and hand each new code
    to `sink`; returns how many. AddressListError (nothing changed) when any address cannot be reissued."""
    found = repository.period_by_name(session, period.name, for_update=True)
    if found is None:
        raise AddressListError([f"there is no period {period.name!r}"])
    if found.status != PeriodStatus.open or found.ends_on < today:
        raise AddressListError([f"period {period.name!r} has ended: its vouchers cannot be reissued"])
    if (found.ends_on, found.value_cents) != (period.ends_on, period.value_cents):
        raise AddressListError([f"period {period.name!r} changed meanwhile; run the command again"])

    addresses = [line for line in lines if line.address is not None]
    households = repository.households_at(session, [line.key for line in addresses])
    vouchers = repository.current_vouchers(session, found.id, [row.id for row in households.values()])
    problems = []
    seen: dict[repository.AddressKey, str] = {}
    for line in lines:
        if line.address is None:
            problems.append(f"{line.label}: {line.problem}")
            continue
        where = describe(line.address)
        household = households.get(line.key)
        if line.key in seen:
            problems.append(f"{line.label}: {where} is also on {seen[line.key]}")
        elif household is None:
            problems.append(f"{line.label}: there is no household at {where}")
        elif household.id not in vouchers:
            problems.append(f"{line.label}: the household at {where} has no voucher in {period.name!r}")
        seen.setdefault(line.key, line.label)
    if problems:
        raise AddressListError(problems)

    for line in sorted(addresses, key=lambda line: line.key):
        household = households[line.key]
        new_id, code = service.reissue(
            session, voucher_id=vouchers[household.id].id, actor=actor, today=today
        )
        new = repository.find_by_id(session, new_id)
        assert new is not None
        sink(household, code, new.balance_cents)
    return len(addresses)
