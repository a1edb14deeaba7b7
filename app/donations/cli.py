"""`buurtkas payments …`: reconcile with Stripe, and send due refunds now.

Exit codes: 0 all is well, 1 differences found (reconcile) or refunds that failed (refunds), 2 the command
could not run (a bad date, no Stripe key, Stripe unreachable). The shared helpers of `app.cli` are imported
when a command runs, so `app.cli` can import this module to register it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

if TYPE_CHECKING:
    from app.config import Settings
    from app.donations.gateway import StripeGateway

payments_cli = typer.Typer(help="Donations through Stripe: reconcile, refunds.", no_args_is_help=True)


def stop(message: str) -> NoReturn:
    """The command cannot run: a clear message, exit code 2, nothing changed."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _gateway(conf: Settings) -> StripeGateway:
    from app.donations.gateway import build_gateway

    gateway = build_gateway(conf)
    if gateway is None:
        stop("Stripe is not configured (STRIPE_API_KEY is empty): donations are off, there is nothing to do")
    return gateway


@payments_cli.command("reconcile")
def reconcile(
    since: Annotated[
        str, typer.Option("--since", help="YYYY-MM-DD: payments and refunds on or after this day (Amsterdam)")
    ],
) -> None:
    """Compare our booked donations and refunds with Stripe's; print every difference. Exit 0: they agree;
    1: differences; 2: could not compare."""
    from app.cli import database, settings
    from app.donations import reconcile as logic
    from app.donations.gateway import GatewayError
    from app.kit.clock import today

    try:
        day = logic.parse_since(since, today())
    except logic.BadSince as exc:
        stop(str(exc))
    conf = settings()
    gateway = _gateway(conf)
    with database() as db:
        try:
            report = logic.reconcile(db, gateway, day)
        except GatewayError as exc:
            stop(f"Stripe could not be asked ({exc}); nothing was compared")
    for line in report.differences:
        typer.echo(" ".join(line.split()))  # one line each, whatever Stripe's metadata holds
    typer.echo(report.summary())
    if not report.ok:
        raise typer.Exit(1)


@payments_cli.command("refunds")
def refunds() -> None:
    """Send the refunds that are due to Stripe now (and look up pending ones); exit 1 if any failed."""
    from app.cli import database, settings
    from app.donations.refunds import process_refunds

    conf = settings()
    gateway = _gateway(conf)
    with database() as db:
        report = process_refunds(db, gateway)
    for error in report.errors:
        typer.echo(f"failed: {error}", err=True)
    typer.echo(report.summary())
    if report.failed:
        raise typer.Exit(1)
