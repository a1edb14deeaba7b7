"""`verify_ledger` finds every kind of corruption a bug (or a hand edit) could cause."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import insert, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import Database
from app.kit.clock import today
from app.ledger.verify import verify_ledger
from app.models import Initiative, LedgerAccount, LedgerTransfer, Pledge
from app.pledges.service import create_pledge
from tests.factories import World


def _pledge(db: Database, world: World, code_index: int = 0, amount: int | None = None) -> None:
    db.run_write(
        lambda s: create_pledge(
            s,
            code=world.codes[code_index],
            initiative_id=world.initiative_id,
            amount_cents=amount,
            settings=world.settings,
            today=today(),
        )
    )


def _verify(db: Database) -> list[str]:
    with db.read() as session:
        return verify_ledger(session).violations


def test_clean_world_verifies(db: Database, world: World) -> None:
    _pledge(db, world, 0)
    _pledge(db, world, 1, 300)
    assert _verify(db) == []


def _raw(db: Database, statement: str) -> None:
    with db.write() as session:
        session.execute(text(statement))


CORRUPTIONS: dict[str, tuple[str, str]] = {
    "balance edited by hand": (
        "UPDATE ledger_accounts SET balance_cents = balance_cents + 1 WHERE kind = 'voucher' "
        "AND id = (SELECT MIN(id) FROM ledger_accounts WHERE kind = 'voucher')",
        "balance differs",
    ),
    "transfer deleted": (
        "DELETE FROM ledger_transfers WHERE id = (SELECT MAX(id) FROM ledger_transfers WHERE pledge_id IS NULL)",
        "balance differs",
    ),
    "pledged counter edited": (
        "UPDATE initiatives SET pledged_cents = pledged_cents + 50",
        "initiative account differs",
    ),
    "pledge amount edited": (
        "UPDATE pledges SET amount_cents = amount_cents + 1",
        "pledge and its transfers disagree",
    ),
}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_corruption_is_found(db: Database, world: World, name: str) -> None:
    _pledge(db, world, 0, 300)
    statement, expected = CORRUPTIONS[name]
    _raw(db, statement)
    violations = _verify(db)
    assert any(expected in v for v in violations), violations


def test_money_created_from_nothing_is_found(db: Database, world: World) -> None:
    # Both sides consistent with their transfers, but the total no longer sums to zero.
    with db.write() as session:
        account = session.execute(
            text("SELECT MIN(id) FROM ledger_accounts WHERE kind = 'voucher'")
        ).scalar_one()
        session.execute(
            update(LedgerAccount)
            .where(LedgerAccount.id == account)
            .values(balance_cents=LedgerAccount.balance_cents + 100)
        )
        pool = session.execute(text("SELECT id FROM ledger_accounts WHERE kind = 'pool'")).scalar_one()
        session.execute(
            insert(LedgerTransfer).values(
                debit_account_id=pool, credit_account_id=account, amount_cents=100, kind="issue"
            )
        )
    violations = _verify(db)
    assert any("balance differs" in v for v in violations), violations


GUARDS: dict[str, Callable[[Session], object]] = {
    "voucher balance below zero": lambda s: s.execute(
        update(LedgerAccount).where(LedgerAccount.kind == "voucher").values(balance_cents=-1)
    ),
    "voucher value past the target": lambda s: s.execute(
        update(Initiative).values(pledged_cents=Initiative.target_cents + 1)
    ),
    "a transfer of zero": lambda s: s.execute(
        insert(LedgerTransfer).values(debit_account_id=1, credit_account_id=2, amount_cents=0, kind="issue")
    ),
    "a transfer to itself": lambda s: s.execute(
        insert(LedgerTransfer).values(debit_account_id=1, credit_account_id=1, amount_cents=5, kind="issue")
    ),
    "a negative pledge": lambda s: s.execute(
        insert(Pledge).values(voucher_id=1, initiative_id=1, amount_cents=-5)
    ),
}


@pytest.mark.parametrize("name", list(GUARDS))
def test_database_refuses_what_no_code_may_do(db: Database, world: World, name: str) -> None:
    with pytest.raises(IntegrityError), db.write() as session:
        GUARDS[name](session)
    assert _verify(db) == []
