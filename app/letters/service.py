"""Issuing codes into files: the one way the CLI (and the back office) runs a transaction whose codes
go to letters, a mail-merge list or a codes CSV."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Row
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import Database
from app.letters.layout import DEFAULT_LOGO, Letterhead, PeriodFacts
from app.letters.reprint import AddressLine, describe, period_facts, reprint
from app.letters.writer import VoucherOutputs
from app.vouchers.history import parse_address
from app.vouchers.service import PeriodOpenResult, households_to_issue, open_period

T = TypeVar("T")


def letterhead(settings: Settings) -> Letterhead:
    """The municipality's name, site and logo (LETTERS_LOGO_PATH; a neutral logo when it is not set)."""
    logo = settings.letters_logo_path
    return Letterhead(
        municipality=settings.municipality_name,
        base_url=settings.base_url,
        logo=Path(logo) if logo else DEFAULT_LOGO,
    )


def write_in_transaction(db: Database, outputs: VoucherOutputs, work: Callable[[Session], T]) -> T:
    """Run `work` (which hands every new code to `outputs.write`) in one write transaction.

    The files are finished (flushed to disk) as the transaction's last step, so a failure there rolls the
    codes back; they get their names only after the commit. Never retried: a second attempt would write
    every code twice.
    """

    def transaction(session: Session) -> T:
        result = work(session)
        outputs.finish()
        return result

    result = db.run_write(transaction, attempts=1)
    outputs.commit()
    return result


@dataclass(frozen=True)
class FilesWritten:
    count: int
    """Vouchers issued (or reissued)."""
    summary: str
    """`, codes in X, letters in Y, mail-merge list in Z` for the files written."""
    codes: list[str] = field(default_factory=list)
    """The new codes, for a reprint of one address (whose code the command prints once)."""


def open_period_to_files(
    db: Database,
    settings: Settings,
    *,
    name: str,
    starts_on: date,
    ends_on: date,
    value_cents: int,
    actor: str,
    today: date,
    codes: Path | None = None,
    letters: Path | None = None,
    mailmerge: Path | None = None,
) -> tuple[PeriodOpenResult, FilesWritten]:
    """Open (or top up) a period; every new code goes to the files given, in mail-house order, in one pass."""
    with VoucherOutputs(
        letterhead=letterhead(settings), codes=codes, letters=letters, mailmerge=mailmerge
    ) as out:
        with db.read() as session:
            expected = households_to_issue(session, name)
        out.start(PeriodFacts(name=name.strip(), ends_on=ends_on, value_cents=value_cents), expected=expected)
        result = write_in_transaction(
            db,
            out,
            lambda session: open_period(
                session,
                name=name,
                starts_on=starts_on,
                ends_on=ends_on,
                value_cents=value_cents,
                actor=actor,
                today=today,
                sink=out.write,
            ),
        )
    return result, FilesWritten(result.issued, out.summary())


def reprint_to_files(
    db: Database,
    settings: Settings,
    lines: list[AddressLine],
    *,
    period_name: str,
    actor: str,
    today: date,
    codes: Path | None = None,
    letters: Path | None = None,
    mailmerge: Path | None = None,
    keep_codes: bool = False,
) -> FilesWritten:
    """Reissue the voucher at every address (one transaction) and write the new codes to the files given
    (`keep_codes`: also return them, for a command that prints the one new code)."""
    new_codes: list[str] = []
    with VoucherOutputs(
        letterhead=letterhead(settings), codes=codes, letters=letters, mailmerge=mailmerge
    ) as out:
        with db.read() as session:
            facts = period_facts(session, period_name)
        out.start(facts, expected=len(lines), reprint=True)

        def sink(household: Row[Any], code: str, balance_cents: int) -> None:
            if keep_codes:
                new_codes.append(code)
            out.write(household, code, balance_cents)

        count = write_in_transaction(
            db,
            out,
            lambda session: reprint(session, lines, period=facts, actor=actor, today=today, sink=sink),
        )
    return FilesWritten(count, out.summary(), new_codes)


def reprint_one_to_file(
    db: Database,
    settings: Settings,
    address: tuple[str, str, str, str],
    period_name: str,
    actor: str,
    today: date,
    letters: Path,
) -> FilesWritten:
    """`reprint_to_files` for one address as typed (postcode, huisnummer, huisletter, toevoeging); the
    new code is in `codes`. AddressInvalid when the address is not one."""
    parsed = parse_address(*address)
    return reprint_to_files(
        db,
        settings,
        [AddressLine(describe(parsed), parsed)],
        period_name=period_name,
        actor=actor,
        today=today,
        letters=letters,
        keep_codes=True,
    )
