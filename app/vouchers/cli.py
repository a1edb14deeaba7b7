"""`buurtkas periods …` and `buurtkas vouchers …`: open a period, replace lost vouchers, reprint letters.

New codes exist in plain text only in the files made now (codes CSV, letters PDF, mail-merge CSV), so
every command that makes codes needs at least one of them. The shared helpers of `app.cli` are imported
when a command runs, so `app.cli` can import this module to register it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

periods_cli = typer.Typer(help="Voucher periods.", no_args_is_help=True)
vouchers_cli = typer.Typer(help="Single vouchers.", no_args_is_help=True)

TodayOpt = Annotated[  # also used by the other commands with --today (app/cli.py imports it)
    str | None, typer.Option("--today", help="Act as if it were this date (YYYY-MM-DD).", hidden=True)
]
CodesOut = Annotated[
    Path | None, typer.Option("--codes-out", help="CSV for the print batch: address columns + code")
]
LettersOut = Annotated[
    Path | None, typer.Option("--letters-out", help="PDF: one A4 letter per household for a window envelope")
]
MailMergeOut = Annotated[
    Path | None, typer.Option("--mailmerge-out", help="CSV for a mail house: the letters' lines, same order")
]


def require_output(*files: Path | None) -> None:
    """Plaintext codes exist only in the files made now: at least one must be asked for (a usage error)."""
    from app.cli import UsageFailure

    if all(file is None for file in files):
        raise UsageFailure(
            "Missing option '--codes-out' (or '--letters-out' or '--mailmerge-out'): "
            "the new codes must be written to a file."
        )


@periods_cli.command("open")
def periods_open(
    name: Annotated[str, typer.Option("--name", help='e.g. "Voorjaar 2027"')],
    starts: Annotated[str, typer.Option("--starts", help="YYYY-MM-DD")],
    ends: Annotated[str, typer.Option("--ends", help="YYYY-MM-DD: the last day the vouchers can be given")],
    codes_out: CodesOut = None,
    value_cents: Annotated[
        int | None, typer.Option("--value-cents", help="Face value (default from settings)")
    ] = None,
    letters_out: LettersOut = None,
    mailmerge_out: MailMergeOut = None,
    today: TodayOpt = None,
) -> None:
    """Open a period and issue one voucher to every active household that has none in it yet.

    The new codes go to the files given (at least one), all in mail-house order (postcode, house number).
    """
    from app.cli import ACTOR, database, parse_day, settings, today_option
    from app.letters.service import open_period_to_files

    require_output(codes_out, letters_out, mailmerge_out)
    conf = settings()
    value = value_cents if value_cents is not None else conf.default_voucher_value_cents
    starts_on, ends_on = parse_day(starts, "--starts"), parse_day(ends, "--ends")
    day = today_option(today)
    with database() as db:
        result, files = open_period_to_files(
            db,
            conf,
            name=name,
            starts_on=starts_on,
            ends_on=ends_on,
            value_cents=value,
            actor=ACTOR,
            today=day,
            codes=codes_out,
            letters=letters_out,
            mailmerge=mailmerge_out,
        )
    verb = "opened" if result.created else "extended" if result.extended else "already open"
    typer.echo(f"period {name!r} {verb}: {result.issued} vouchers issued{files.summary}")


@vouchers_cli.command("reissue")
def vouchers_reissue(
    postcode: Annotated[str, typer.Option("--postcode")],
    huisnummer: Annotated[int, typer.Option("--huisnummer")],
    period: Annotated[str, typer.Option("--period", help="Period name")],
    huisletter: Annotated[str, typer.Option("--huisletter")] = "",
    toevoeging: Annotated[str, typer.Option("--toevoeging")] = "",
    letters_out: LettersOut = None,
    today: TodayOpt = None,
) -> None:
    """Replace a lost voucher: the old code stops working, its balance moves to a new code (printed once,
    and with --letters-out also as a letter)."""
    from app.cli import ACTOR, database, settings, today_option

    day = today_option(today)
    if letters_out is not None:
        from app.letters.service import reprint_one_to_file

        conf = settings()
        with database() as db:
            files = reprint_one_to_file(
                db, conf, (postcode, str(huisnummer), huisletter, toevoeging), period, ACTOR, day, letters_out
            )
        typer.echo(f"new code: {files.codes[0]}{files.summary}")
        return

    from app.vouchers.service import reissue_for_address

    with database() as db:
        code = db.run_write(
            lambda s: reissue_for_address(
                s,
                postcode=postcode,
                huisnummer=huisnummer,
                huisletter=huisletter,
                toevoeging=toevoeging,
                period_name=period,
                actor=ACTOR,
                today=day,
            )
        )
    typer.echo(f"new code: {code}")


@vouchers_cli.command("reprint")
def vouchers_reprint(
    file: Annotated[
        Path, typer.Argument(help="CSV: postcode,huisnummer,huisletter,toevoeging (a codes CSV will do)")
    ],
    period: Annotated[str, typer.Option("--period", help="Period name")],
    letters_out: LettersOut = None,
    codes_out: CodesOut = None,
    mailmerge_out: MailMergeOut = None,
    today: TodayOpt = None,
) -> None:
    """New codes and letters for a list of addresses (letters lost or not delivered): the old codes stop
    working, the balances move. All or nothing: an address that cannot be reissued changes nothing."""
    from app.cli import ACTOR, database, settings, today_option
    from app.letters.reprint import read_address_list
    from app.letters.service import reprint_to_files

    require_output(codes_out, letters_out, mailmerge_out)
    lines = read_address_list(file)
    conf = settings()
    day = today_option(today)
    with database() as db:
        files = reprint_to_files(
            db,
            conf,
            lines,
            period_name=period,
            actor=ACTOR,
            today=day,
            codes=codes_out,
            letters=letters_out,
            mailmerge=mailmerge_out,
        )
    typer.echo(f"{files.count} vouchers reissued in {period.strip()!r}{files.summary}")
