"""`buurtkas tick` on two machines at the same moment (issue 9): what is due is done once.

Two real `buurtkas tick` processes start together against one database with work due: an initiative past
its deadline with four pledges (they go back), a period that has ended (its vouchers expire), a deadline
reminder, and twelve queued mails. Each mail must reach the SMTP server once, each pledge go back once, and
the ledger stay correct.

PostgreSQL: the tick changes data under a transaction-scoped advisory lock (`pg_try_advisory_xact_lock`).
The tick that gets it does everything; the other does not wait: it prints "tick: another tick is running;
nothing done", exits 0 and has changed and sent nothing. The test makes the overlap certain instead of
likely: it holds the expiring initiative's row, so the tick with the lock stops inside its transaction
(pg_locks shows it holding the advisory lock and waiting), and lets go only after the other has given up.
Without the advisory lock both ticks would wait for that row, and the test says so.

SQLite: `BEGIN IMMEDIATE` serialises the ticks. The test holds the write lock until both wait for it (both
sleep in SQLite's busy handler); the one that gets it next does the work, the other then finds nothing due.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import Database
from app.kit.clock import today as amsterdam_today
from app.mail.outbox import enqueue
from app.models import (
    Account,
    AccountKind,
    AuditEvent,
    Initiative,
    InitiativeTransition,
    LedgerAccount,
    LedgerTransfer,
    OutboxMessage,
    OutboxStatus,
    TransferKind,
)
from app.pledges.service import create_pledge
from app.ticks import _TICK_LOCK
from tests.cli_helpers import BUURTKAS
from tests.databases import TEST_SECRET
from tests.mailserver import MailServer
from tests.race_helpers import FACE, assert_ledger_ok, populate, voucher_balances, wait_until

pytestmark = pytest.mark.race

HOUSEHOLDS = 6
QUEUED_MAILS = 12
PLEDGES = 4
SKIPPED = "tick: another tick is running; nothing done"
NOTHING_DUE = (
    "tick: 0 initiative(s) expired; 0 old rate counters purged; 0 expired sessions and 0 used links removed; "
    "mail: {sent} sent, 0 to retry, 0 failed"
)
# The tick that did the work: one initiative expired, one reminder, the period closed (its vouchers expire;
# only the one nobody used still holds value: the pledged ones went to the pool with their initiative).
DID_THE_WORK = (
    "tick: 1 initiative(s) expired; 1 deadline reminder(s) queued; period 'Voorjaar 2027' closed: "
    f"{HOUSEHOLDS} vouchers expired, {FACE} cents to the pool; 0 old rate counters purged; "
    "0 expired sessions and 0 used links removed; mail: {sent} sent, 0 to retry, 0 failed"
)


@dataclass(frozen=True)
class Due:
    tick_day: date
    codes: list[str]
    expiring: int
    reminded: int
    mails: int


def due_work(db: Database, settings: Settings) -> Due:
    """Six households; an initiative with four pledges whose deadline passes before `tick_day`, one with a
    deadline five days after it (a reminder to its owner), the period ended; twelve mails queued."""
    today = amsterdam_today()
    setup = populate(
        db,
        settings,
        households=HOUSEHOLDS,
        targets=[5_000, 5_000],
        today=today,
        ends_on=today + timedelta(days=30),
    )
    expiring, reminded = setup.initiative_ids
    tick_day = today + timedelta(days=61)  # past the first one's deadline (60 days) and the period's end

    def work(session: Session) -> None:
        owner = session.execute(
            insert(Account).values(email="initiatiefnemer@example.org", display_name="", locale="nl")
        ).inserted_primary_key[0]
        session.execute(
            update(Initiative).where(Initiative.id.in_(setup.initiative_ids)).values(owner_account_id=owner)
        )
        session.execute(
            update(Initiative).where(Initiative.id == reminded).values(deadline=tick_day + timedelta(days=5))
        )
        for code in setup.codes[:PLEDGES]:
            create_pledge(
                session, code=code, initiative_id=expiring, amount_cents=None, settings=settings, today=today
            )
        create_pledge(
            session,
            code=setup.codes[PLEDGES],
            initiative_id=reminded,
            amount_cents=None,
            settings=settings,
            today=today,
        )
        for n in range(QUEUED_MAILS):
            enqueue(
                session,
                settings,
                kind="initiative_status",
                to=f"bewoner{n}@example.org",
                locale="nl",
                context={"subject": f"Bericht {n}", "title": "", "paragraphs": [], "manage_url": ""},
            )

    db.run_write(work)
    # The expiry notice and the reminder come on top of the queued mails.
    return Due(tick_day, setup.codes, expiring, reminded, mails=QUEUED_MAILS + 2)


def start_tick(settings: Settings, smtp: MailServer, day: date, cwd: Path) -> subprocess.Popen[str]:
    env = {name: os.environ[name] for name in ("PATH", "HOME", "TMPDIR") if name in os.environ}
    env.update(
        DATABASE_URL=settings.database_url,
        SECRET_KEY=TEST_SECRET,
        ENVIRONMENT="test",
        SMTP_URL=smtp.url,
        LANG="C.UTF-8",
        NO_COLOR="1",
    )
    return subprocess.Popen(
        [str(BUURTKAS), "tick", "--today", day.isoformat()],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(tick: subprocess.Popen[str]) -> tuple[int, str, str]:
    stdout, stderr = tick.communicate(timeout=180)
    return tick.returncode, stdout.strip(), stderr


def assert_done_once(db: Database, due: Due, smtp: MailServer) -> None:
    """One expiry, each pledge back once, the period closed once, one reminder, each mail sent once."""
    with db.read() as session:
        assert session.scalar(select(Initiative.status).where(Initiative.id == due.expiring)) == "expired"
        assert session.scalar(select(Initiative.status).where(Initiative.id == due.reminded)) == "published"
        expiries = session.scalar(
            select(func.count())
            .select_from(InitiativeTransition)
            .where(
                InitiativeTransition.initiative_id == due.expiring,
                InitiativeTransition.to_status == "expired",
            )
        )
        kinds = {
            kind: int(count)
            for kind, count in session.execute(
                select(LedgerTransfer.kind, func.count()).group_by(LedgerTransfer.kind)
            )
        }
        pool = session.scalar(
            select(func.sum(LedgerAccount.balance_cents)).where(LedgerAccount.kind == AccountKind.pool)
        )
        reminders = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "initiative.deadline_reminder")
        )
        outbox = session.execute(
            select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.attempts).order_by(OutboxMessage.id)
        ).all()
    assert expiries == 1
    # The period had ended, so the pledges went to the pool rather than back to their vouchers; the one
    # voucher nobody used expired into the pool.
    assert kinds[TransferKind.pledge_to_pool] == PLEDGES
    assert kinds[TransferKind.expire] == 1
    assert TransferKind.pledge_return not in kinds
    assert pool == -HOUSEHOLDS * FACE + (PLEDGES + 1) * FACE  # issued from it, then back into it
    assert voucher_balances(db, due.codes) == [0] * len(due.codes)
    assert reminders == 1
    assert_ledger_ok(db)
    assert len(outbox) == due.mails
    assert all(status == OutboxStatus.sent and attempts == 1 for _, status, attempts in outbox), outbox
    delivered = [re.search(r"\.outbox(\d+)@", str(m["Message-ID"])) for m in smtp.messages]
    assert sorted(int(found.group(1)) for found in delivered if found) == [row.id for row in outbox]


def ledger_verify(settings: Settings, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {name: os.environ[name] for name in ("PATH", "HOME", "TMPDIR") if name in os.environ}
    env.update(DATABASE_URL=settings.database_url, SECRET_KEY=TEST_SECRET, ENVIRONMENT="test")
    return subprocess.run(
        [str(BUURTKAS), "ledger", "verify"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


# ------------------------------------------------------------------------------------------ PostgreSQL


_TICK_LOCK_STATE = text(
    "SELECT"
    " (SELECT count(*) FROM pg_locks"
    "   WHERE locktype = 'advisory' AND granted AND objsubid = 1"
    "     AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    "     AND ((classid::bigint << 32) | objid::bigint) = :key),"
    " (SELECT count(*) FROM pg_stat_activity"
    "   WHERE datname = current_database() AND wait_event_type = 'Lock')"
)


def tick_lock_state(db: Database) -> tuple[int, int]:
    """(backends holding the tick's advisory lock, backends of this database waiting for a lock)."""
    with db.read() as session:
        held, waiting = session.execute(_TICK_LOCK_STATE, {"key": _TICK_LOCK}).one()
    return int(held), int(waiting)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_two_ticks_at_once_on_postgresql_one_works_the_other_skips(
    db: Database, settings: Settings, smtp_server: MailServer, tmp_path: Path
) -> None:
    due = due_work(db, settings)
    holder = db.engine.connect()
    holding = holder.begin()
    ticks: list[subprocess.Popen[str]] = []
    try:
        # The tick that gets the advisory lock will stop at this row, inside its transaction.
        holder.execute(text("SELECT id FROM initiatives WHERE id = :id FOR UPDATE"), {"id": due.expiring})
        ticks = [start_tick(settings, smtp_server, due.tick_day, tmp_path) for _ in range(2)]

        def settled() -> bool:
            held, waiting = tick_lock_state(db)
            exited = [tick for tick in ticks if tick.poll() is not None]
            return len(exited) == 2 or waiting >= 2 or (len(exited) == 1 and held == 1 and waiting == 1)

        wait_until(settled, timeout=120)
        held, waiting = tick_lock_state(db)
        assert waiting < 2, "both ticks are inside the tick's transaction at once: no lock keeps them apart"
        running = [tick for tick in ticks if tick.poll() is None]
        assert len(running) == 1, [finish(tick) for tick in ticks]
        worker, skipper = running[0], next(tick for tick in ticks if tick is not running[0])
        code, stdout, stderr = finish(skipper)
        assert (code, stdout) == (0, SKIPPED), stderr
        # The other holds the lock and waits for the held row: nothing of its work is committed yet, and
        # the tick that gave up sent nothing either.
        assert (held, waiting) == (1, 1)
        assert smtp_server.messages == []
        with db.read() as session:
            assert (
                session.scalar(select(Initiative.status).where(Initiative.id == due.expiring)) == "published"
            )
    except BaseException:
        for tick in ticks:
            tick.kill()
        raise
    finally:
        holding.rollback()
        holder.close()
    code, stdout, stderr = finish(worker)
    assert (code, stdout) == (0, DID_THE_WORK.format(sent=due.mails)), stderr
    assert_done_once(db, due, smtp_server)
    verified = ledger_verify(settings, tmp_path)
    assert verified.returncode == 0 and verified.stdout.strip().endswith(": OK"), verified

    # A tick after them, on the same day, has nothing left to do.
    code, stdout, stderr = finish(start_tick(settings, smtp_server, due.tick_day, tmp_path))
    assert (code, stdout) == (0, NOTHING_DUE.format(sent=0)), stderr
    assert len(smtp_server.messages) == due.mails


# ---------------------------------------------------------------------------------------------- SQLite


def in_busy_wait(pid: int) -> bool:
    """The process sleeps in the kernel (SQLite's busy handler sleeps between tries for the lock)."""
    try:
        return Path(f"/proc/{pid}/wchan").read_text() == "hrtimer_nanosleep"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("backend", ["sqlite"])
def test_two_ticks_at_once_on_sqlite_one_works_then_the_other_finds_nothing(
    db: Database, settings: Settings, smtp_server: MailServer, tmp_path: Path
) -> None:
    if not Path("/proc/self/wchan").exists():
        pytest.skip("needs /proc/PID/wchan (Linux) to see both ticks wait for the lock")
    due = due_work(db, settings)
    writer = sqlite3.connect(str(make_url(settings.database_url).database), isolation_level=None)
    ticks: list[subprocess.Popen[str]] = []
    try:
        writer.execute("BEGIN IMMEDIATE")  # what each tick's transaction starts with
        ticks = [start_tick(settings, smtp_server, due.tick_day, tmp_path) for _ in range(2)]
        wait_until(
            lambda: (
                any(tick.poll() is not None for tick in ticks)
                or all(in_busy_wait(tick.pid) for tick in ticks)
            ),
            timeout=120,
        )
        assert all(tick.poll() is None for tick in ticks), [finish(tick) for tick in ticks]
    except BaseException:
        for tick in ticks:
            tick.kill()
        raise
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    results = [finish(tick) for tick in ticks]
    assert all(code == 0 for code, _, _ in results), results
    # Both waited for the write lock; whichever got it first did the work, the other then found nothing
    # due. Both send mail afterwards, so they may share it (each message once, see below).
    lines = sorted(re.sub(r"mail: \d+ sent", "mail: {sent} sent", stdout) for _, stdout, _ in results)
    assert lines == sorted([NOTHING_DUE, DID_THE_WORK]), results
    sent = [int(re.search(r"mail: (\d+) sent", stdout).group(1)) for _, stdout, _ in results]  # type: ignore[union-attr]
    assert sum(sent) == due.mails
    assert_done_once(db, due, smtp_server)
