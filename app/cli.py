"""The `buurtkas` command (also `python -m app`).

Each command runs in one transaction: it prints a clear error and exits non-zero on bad input, and then
nothing has changed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.config import Settings, get_settings
from app.db import Database
from app.donations.cli import payments_cli
from app.errors import AppError
from app.kit.clock import today as amsterdam_today
from app.kit.csvfile import CsvError
from app.letters.errors import AddressListError, LetterSetupError
from app.vouchers.cli import TodayOpt, periods_cli, vouchers_cli
from app.vouchers.printbatch import FileKept, OutputFileError

cli = typer.Typer(
    help="Buurtkas: vouchers, initiatives and the ledger.", no_args_is_help=True, add_completion=False
)
db_cli = typer.Typer(help="The database.", no_args_is_help=True)
areas_cli = typer.Typer(help="Gemeente, wijken and buurten.", no_args_is_help=True)
households_cli = typer.Typer(help="Households (addresses).", no_args_is_help=True)
initiatives_cli = typer.Typer(help="Initiatives.", no_args_is_help=True)
ledger_cli = typer.Typer(help="The ledger.", no_args_is_help=True)
mail_cli = typer.Typer(help="Outgoing e-mail (the outbox).", no_args_is_help=True)
staff_cli = typer.Typer(help="Back-office accounts (wijkregisseurs and beheerders).", no_args_is_help=True)
retention_cli = typer.Typer(help="Removing personal data after initiatives closed.", no_args_is_help=True)
for name, sub in (
    ("db", db_cli),
    ("areas", areas_cli),
    ("households", households_cli),
    ("periods", periods_cli),
    ("vouchers", vouchers_cli),
    ("initiatives", initiatives_cli),
    ("ledger", ledger_cli),
    ("mail", mail_cli),
    ("staff", staff_cli),
    ("payments", payments_cli),
    ("retention", retention_cli),
):
    cli.add_typer(sub, name=name)

ACTOR = "cli"


class CliFailure(Exception):
    """A clear message for the operator; exit code 1, nothing changed."""

    exit_code = 1


class UsageFailure(CliFailure):
    """The command was called wrongly (like click's usage errors): exit code 2."""

    exit_code = 2


def fail(message: str) -> None:
    raise CliFailure(message)


@contextmanager
def database() -> Iterator[Database]:
    try:
        db = Database(settings())
    except ValueError as exc:  # e.g. an unsupported DATABASE_URL driver
        raise CliFailure(f"DATABASE_URL: {exc}") from exc
    try:
        yield db
    finally:
        db.dispose()


def settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        problems = "; ".join(
            (f"{'.'.join(str(p) for p in err['loc']).upper()}: " if err["loc"] else "")
            + err["msg"].removeprefix("Value error, ")
            for err in exc.errors()
        )
        raise CliFailure(f"settings: {problems}") from exc


def parse_day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CliFailure(f"{option}: {value!r} is not a date like 2027-03-31") from None


def today_option(value: str | None) -> date:
    return parse_day(value, "--today") if value else amsterdam_today()


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations."""
    from app.migrate import upgrade

    upgrade(settings())
    typer.echo("database is up to date")


@areas_cli.command("import")
def areas_import(file: Annotated[Path, typer.Argument(help="CSV: code,name,kind,parent_code")]) -> None:
    """Create or update areas from a CSV file."""
    from app.areas.service import import_areas

    with database() as db:
        result = db.run_write(lambda s: import_areas(s, file, actor=ACTOR))
    typer.echo(f"areas: {result.created} created, {result.updated} updated, {result.unchanged} unchanged")


@households_cli.command("import")
def households_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV: address_id,postcode,huisnummer,huisletter,toevoeging,straat,woonplaats,buurtcode"
        ),
    ],
    keep_missing: Annotated[
        bool, typer.Option(help="Do not deactivate addresses missing from the file.")
    ] = False,
) -> None:
    """Upsert households from the municipality's address list; missing addresses become inactive."""
    from app.households.service import import_households

    with database() as db:
        result = db.run_write(
            lambda s: import_households(s, file, actor=ACTOR, deactivate_missing=not keep_missing)
        )
    typer.echo(
        f"households: {result.rows} rows, {result.created} new, {result.deactivated} deactivated, "
        f"{result.active} active in all"
    )


@initiatives_cli.command("create")
def initiatives_create(
    title: Annotated[str, typer.Option("--title")],
    area: Annotated[str, typer.Option("--area", help="CBS code of a buurt, wijk or the gemeente")],
    target_cents: Annotated[int, typer.Option("--target-cents")],
    deadline: Annotated[str | None, typer.Option("--deadline", help="YYYY-MM-DD")] = None,
    publish: Annotated[bool, typer.Option("--publish", help="Submit and publish it at once")] = False,
    summary: Annotated[str, typer.Option("--summary")] = "",
    today: TodayOpt = None,
) -> None:
    """Create an initiative; prints its id alone on the last line."""
    from app.initiatives.service import NewInitiative, create_and_maybe_publish

    conf = settings()
    day = today_option(today)
    data = NewInitiative(
        title=title,
        area_code=area,
        target_cents=target_cents,
        deadline=parse_day(deadline, "--deadline") if deadline else None,
        summary=summary,
    )
    with database() as db:
        initiative_id = db.run_write(
            lambda s: create_and_maybe_publish(
                s, data, publish=publish, settings=conf, actor=ACTOR, today=day
            )
        )
    typer.echo(f"initiative created{' and published' if publish else ' as draft'}")
    typer.echo(str(initiative_id))


@initiatives_cli.command("transition")
def initiatives_transition(
    initiative_id: Annotated[int, typer.Argument()],
    to: Annotated[str, typer.Option("--to", help="submitted, published, cancelled, withdrawn, completed, …")],
    reason: Annotated[str, typer.Option("--reason")] = "",
    today: TodayOpt = None,
) -> None:
    """Move an initiative along its life cycle (unfunded endings return every pledge)."""
    from app.initiatives.service import transition
    from app.models import InitiativeStatus

    if to not in InitiativeStatus.__members__:
        fail(f"--to: {to!r} is not one of {', '.join(InitiativeStatus)}")
    day = today_option(today)
    with database() as db:
        db.run_write(
            lambda s: transition(
                s,
                initiative_id,
                InitiativeStatus(to),
                actor=ACTOR,
                reason=reason,
                today=day,
                settings=db.settings,
            )
        )
    typer.echo(f"initiative {initiative_id} is now {to}")


@ledger_cli.command("verify")
def ledger_verify() -> None:
    """Check every ledger invariant; exits 1 on any violation."""
    from app.ledger.verify import verify_ledger

    with database() as db, db.read() as session:
        report = verify_ledger(session)
    for violation in report.violations:
        typer.echo(f"VIOLATION {violation}", err=True)
    typer.echo(
        f"ledger: {report.accounts} accounts, {report.transfers} transfers, total {report.total_cents} cents: "
        + ("OK" if report.ok else f"{len(report.violations)} violation(s)")
    )
    if not report.ok:
        raise typer.Exit(1)


@cli.command("tick")
def tick(today: TodayOpt = None) -> None:
    """Do what is due: expire vouchers of ended periods, expire initiatives past their deadline, return funds."""
    from app.ticks import run_tick

    day = today_option(today)
    with database() as db:
        report = run_tick(db, today=day, actor="tick")
    typer.echo(report.summary())


@mail_cli.command("send")
def mail_send(
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="At most this many messages")] = 50,
) -> None:
    """Send the messages that are due now (what fails is retried later, by the tick or this command)."""
    from app.mail.sender import send_due

    conf = settings()
    with database() as db:
        report = send_due(db, conf, limit=limit)
    typer.echo(report.summary())


@mail_cli.command("status")
def mail_status() -> None:
    """Count the outbox's messages per status (pending: how many of them are due now)."""
    from app.mail.outbox import status_counts

    with database() as db, db.read() as session:
        counts = status_counts(session)
    typer.echo(
        f"outbox: {counts.pending} pending ({counts.due} due now), {counts.sent} sent, {counts.failed} failed"
    )


def _staff_password(password_stdin: bool, invite: bool) -> str | None:
    if invite:
        return None
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        fail("give the password with --password-stdin, or use --invite for a link to set it")
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))


@staff_cli.command("create")
def staff_create(
    email: Annotated[str, typer.Option("--email")],
    name: Annotated[str, typer.Option("--name")],
    role: Annotated[str, typer.Option("--role", help="admin or director")] = "admin",
    wijk: Annotated[
        list[str] | None, typer.Option("--wijk", help="A wijk code for a director; repeat it")
    ] = None,
    gemeente_wide: Annotated[
        bool, typer.Option("--gemeente-wide", help="A director may act on gemeente-wide items")
    ] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin")
    ] = False,
    invite: Annotated[
        bool, typer.Option("--invite", help="No password now: print a link to set it (3 days)")
    ] = False,
) -> None:
    """Create a staff account (the first administrator, for one). Two-factor sign-in is set up at the first
    sign-in: the employee scans a QR code with an authenticator app."""
    from app.staff.service import StaffInput, create_staff, invite_token

    password = _staff_password(password_stdin, invite)
    data = StaffInput(
        email=email, name=name, role=role, wijk_codes=tuple(wijk or ()), gemeente_wide=gemeente_wide
    )
    config = settings()
    with database() as db:
        staff = db.run_write(lambda s: create_staff(s, data, password=password, actor=ACTOR))
    typer.echo(f"staff member {staff.id} created: {staff.email} ({staff.role})")
    base = config.base_url.rstrip("/")
    if password is None:
        typer.echo(f"set the password within 3 days at: {base}/staff/invite/{invite_token(config, staff)}")
    typer.echo(f"sign in at {base}/staff/login; the authenticator app is set up at the first sign-in")


def _staff_id(db: Database, email: str) -> int:
    from sqlalchemy import select

    from app.accounts.service import normalise_email
    from app.models import StaffMember

    address = normalise_email(email)
    with db.read() as session:
        found = session.scalar(select(StaffMember.id).where(StaffMember.email == address))
    if found is None:
        fail(f"no staff member with the address {address}")
    return int(found)  # type: ignore[arg-type]


@staff_cli.command("reset-2fa")
def staff_reset_two_factor(email: Annotated[str, typer.Option("--email")]) -> None:
    """Forget a staff member's authenticator (lost phone): they set it up again at the next sign-in."""
    from app.staff.service import reset_two_factor

    with database() as db:
        staff_id = _staff_id(db, email)
        db.run_write(lambda s: reset_two_factor(s, staff_id, actor=ACTOR))
    typer.echo("two-factor sign-in reset; it is set up again at the next sign-in")


@staff_cli.command("unlock")
def staff_unlock(email: Annotated[str, typer.Option("--email")]) -> None:
    """Lift a lock-out after too many wrong passwords or codes."""
    from app.staff.service import unlock

    with database() as db:
        staff_id = _staff_id(db, email)
        db.run_write(lambda s: unlock(s, staff_id, actor=ACTOR))
    typer.echo("unlocked")


@retention_cli.command("run")
def retention_run(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would go; change nothing")] = False,
) -> None:
    """Remove initiators' and donors' personal data RETENTION_DAYS after their initiative closed."""
    from app.models.base import utcnow
    from app.ops.retention import retention_days, run

    conf = settings()
    with database() as db:
        report = run(db, now=utcnow(), days=retention_days(conf), actor=ACTOR, dry_run=dry_run)
    for line in report.lines():
        typer.echo(line)


@cli.command("demo")
def demo(
    households: Annotated[int, typer.Option("--households", min=10, max=50_000)] = 3_000,
    codes_out: Annotated[Path, typer.Option("--codes-out")] = Path("var/demo-codes.csv"),
) -> None:
    """Load a demo municipality (Almelo-like), a period, initiatives; prints a few voucher codes."""
    from app.demo.loader import load_demo

    conf = settings()
    with database() as db:
        lines = load_demo(db, conf, households=households, codes_out=codes_out)
    for line in lines:
        typer.echo(line)


@cli.command("serve")
def serve(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64)] = 1,
) -> None:
    """Serve the app with uvicorn."""
    import uvicorn

    from app.ops.metrics import prepare_multiprocess_dir
    from app.ops.serving import GuardedHttpToolsProtocol

    settings()  # refuse to start with bad settings, with a clear message
    prepare_multiprocess_dir()  # old counter files of earlier workers go
    uvicorn.run(
        "app.main:app",
        host=host,
        port=port,
        workers=workers,
        http=GuardedHttpToolsProtocol,  # TCP_NODELAY whatever the loop and worker count; a header time limit
        proxy_headers=True,
        access_log=False,
        log_level="info",
    )


def main(argv: list[str] | None = None) -> Any:
    from app.logging import configure_cli_logging

    # Logs go to stderr (redacted like the app's), so stdout stays the command's own answer.
    configure_cli_logging()
    try:
        return cli(args=argv, standalone_mode=False)
    except CliFailure as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except OutputFileError as exc:
        typer.echo(f"error: {exc}; nothing changed", err=True)
        sys.exit(1)
    except FileKept as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except LetterSetupError as exc:
        typer.echo(f"error: --letters-out: {exc}; nothing changed", err=True)
        sys.exit(1)
    except AddressListError as exc:
        typer.echo(f"error: no voucher was reissued, nothing changed:\n{exc}", err=True)
        sys.exit(1)
    except CsvError as exc:
        typer.echo(f"error: the file was not imported, nothing changed:\n{exc}", err=True)
        sys.exit(1)
    except AppError as exc:
        typer.echo(
            f"error: {exc.detail_en if os.environ.get('LANG', '').startswith('en') else exc.detail}", err=True
        )
        sys.exit(1)
    except IntegrityError as exc:
        typer.echo(
            f"error: this conflicts with data already in the database, nothing changed ({exc.orig})", err=True
        )
        sys.exit(1)
    except DBAPIError as exc:  # unreachable, not migrated, or data it cannot store
        lines = str(exc.orig).strip().splitlines() or [type(exc.orig).__name__]
        missing_table = "no such table" in lines[0] or (
            "relation" in lines[0] and "does not exist" in lines[0]
        )
        reason = lines[0] if missing_table else " ".join(line.strip() for line in lines)
        hint = "; has it been migrated? Run `buurtkas db upgrade`" if missing_table else ""
        typer.echo(f"error: the database could not do this ({reason}){hint}; nothing changed", err=True)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(1)
    except Exception as exc:
        import click

        # Usage errors (bad option value, missing option, unknown command): typer ≥ 0.2x vendors its own
        # click, whose exceptions derive from typer.TyperException rather than click.ClickException.
        if isinstance(exc, click.ClickException | typer.TyperException) and hasattr(exc, "show"):
            exc.show()
            sys.exit(getattr(exc, "exit_code", 1))
        raise


if __name__ == "__main__":
    main()
