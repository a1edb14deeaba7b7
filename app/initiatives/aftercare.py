"""What an initiator does once the initiative is public: post updates, enter paper vouchers collected door
to door, give the IBAN for the payout when funded, and report completion."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.audit.service import record
from app.config import Settings
from app.errors import AppError
from app.initiatives import service
from app.initiatives.editor import owned
from app.initiatives.errors import InitiativeInvalid, TransitionNotAllowed
from app.kit.ratelimit import FailureLimiter
from app.models import Initiative, InitiativeStatus, NewsKind
from app.news.service import post_news
from app.pledges.service import pledge_from_voucher
from app.vouchers import service as vouchers
from app.vouchers.errors import UnknownVoucher

MAX_CODES_PER_POST = 50
MAX_UNKNOWN_PER_POST = 10
_NOT_TRIED_NL = "Niet geprobeerd: te veel onbekende codes in deze lijst. Kijk de codes na."
_NOT_TRIED_EN = "Not tried: too many unknown codes in this list. Check the codes."
_SEPARATORS = re.compile(r"[\n,;]+")


@dataclass(frozen=True)
class PaperVoucherResult:
    """What happened to one typed code; the code itself is shown masked, never stored."""

    masked_code: str
    amount_cents: int
    problem_nl: str = ""
    problem_en: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem_nl


def post_update(session: Session, initiative_id: int, *, account_id: int, title: str, body: str) -> int:
    """An update on the initiative's page and in its area's news."""
    initiative = owned(session, initiative_id, account_id)
    if initiative.status not in (
        InitiativeStatus.published,
        InitiativeStatus.funded,
        InitiativeStatus.completed,
    ):
        raise TransitionNotAllowed(
            "U kunt nieuws plaatsen zodra het initiatief gepubliceerd is.",
            "You can post news once the initiative is published.",
        )
    title, body = title.strip(), body.strip()
    if not 3 <= len(title) <= 160 or not 1 <= len(body) <= 5_000:
        raise InitiativeInvalid(
            "Geef het bericht een titel (3 tot 160 tekens) en een tekst (hoogstens 5000 tekens).",
            "Give the update a title (3 to 160 characters) and a text (at most 5000 characters).",
        )
    return post_news(
        session,
        area_id=initiative.area_id,
        initiative_id=initiative_id,
        kind=NewsKind.update,
        title=title,
        body=body,
        author_name=initiative.initiator_name,
    )


def split_codes(text: str) -> list[str]:
    codes = [part.strip() for part in _SEPARATORS.split(text) if part.strip()]
    if not codes:
        raise InitiativeInvalid("Vul minstens één vouchercode in.", "Enter at least one voucher code.")
    if len(codes) > MAX_CODES_PER_POST:
        raise InitiativeInvalid(
            f"Vul hoogstens {MAX_CODES_PER_POST} codes tegelijk in.",
            f"Enter at most {MAX_CODES_PER_POST} codes at a time.",
        )
    return codes


@dataclass
class PaperVoucherBatch:
    results: list[PaperVoucherResult]
    unknown: int
    """Codes that matched no voucher: the caller records them as failed attempts after the commit."""


def enter_paper_vouchers(
    session: Session,
    initiative_id: int,
    codes: list[str],
    *,
    account_id: int,
    settings: Settings,
    limiter: FailureLimiter,
    client: str,
    today: date,
) -> PaperVoucherBatch:
    """Give the whole balance of each collected paper voucher to the initiative, one savepoint per code, so
    one bad code does not undo the others. A batch stops after MAX_UNKNOWN_PER_POST unknown codes, and the
    client's (and everyone's) failed-attempt limit is checked before each code."""
    owned(session, initiative_id, account_id)
    return spend_paper_vouchers(
        session,
        initiative_id,
        codes,
        actor=f"account:{account_id}",
        settings=settings,
        limiter=limiter,
        client=client,
        today=today,
    )


def spend_paper_vouchers(
    session: Session,
    initiative_id: int,
    codes: list[str],
    *,
    actor: str,
    settings: Settings,
    limiter: FailureLimiter,
    client: str,
    today: date,
) -> PaperVoucherBatch:
    """`enter_paper_vouchers` for an actor the caller has already allowed to act on the initiative (the
    owner, or a wijkregisseur at the wijkcentrum); audited under `actor`."""
    batch = PaperVoucherBatch(results=[], unknown=0)
    for code in codes:
        masked = _mask(code)
        if batch.unknown >= MAX_UNKNOWN_PER_POST:
            batch.results.append(PaperVoucherResult(masked, 0, _NOT_TRIED_NL, _NOT_TRIED_EN))
            continue
        limiter.check(client, session)
        try:
            with session.begin_nested():
                voucher = vouchers.lookup(session, code)
                pledge = pledge_from_voucher(
                    session,
                    voucher=voucher,
                    initiative_id=initiative_id,
                    amount_cents=None,
                    settings=settings,
                    today=today,
                    actor=actor,
                )
            batch.results.append(PaperVoucherResult(masked, pledge.amount_cents))
        except AppError as error:
            if error.status == 429:
                raise
            if isinstance(error, UnknownVoucher):
                batch.unknown += 1
            batch.results.append(PaperVoucherResult(masked, 0, error.detail, error.detail_en))
    record(
        session,
        actor=actor,
        action="initiative.paper_vouchers",
        subject_type="initiative",
        subject_id=initiative_id,
        after={
            "entered": len(batch.results),
            "accepted": sum(1 for r in batch.results if r.ok),
            "unknown": batch.unknown,
            "cents": sum(r.amount_cents for r in batch.results),
        },
    )
    return batch


def _mask(code: str) -> str:
    compact = "".join(ch for ch in code.upper() if ch.isalnum())
    return f"…{compact[-4:]}" if len(compact) >= 4 else "…"


def set_payout_account(
    session: Session, initiative_id: int, *, account_id: int, iban: str, holder: str
) -> str:
    """Store the (validated) IBAN and account holder for the payout of a funded initiative."""
    initiative = owned(session, initiative_id, account_id, for_update=True)
    return store_payout_account(session, initiative, actor=f"account:{account_id}", iban=iban, holder=holder)


def store_payout_account(
    session: Session, initiative: Initiative, *, actor: str, iban: str, holder: str
) -> str:
    """`set_payout_account` for an initiative the caller has already fetched (locked) and allowed `actor`
    to act on; audited under `actor`. Returns the IBAN formatted for display."""
    initiative_id = initiative.id
    if initiative.status not in (InitiativeStatus.funded, InitiativeStatus.completed):
        raise TransitionNotAllowed(
            "Het rekeningnummer vult u in zodra het initiatief het doel heeft gehaald.",
            "You enter the account number once the initiative has reached its target.",
        )
    try:
        checked = IBAN(iban.strip())
    except SchwiftyException:
        raise InitiativeInvalid(
            "Dit IBAN klopt niet. Kijk of u het goed hebt overgenomen, bijvoorbeeld NL91 ABNA 0417 1643 00.",
            "This IBAN is not valid. Check that you copied it correctly, e.g. NL91 ABNA 0417 1643 00.",
        ) from None
    holder = holder.strip()
    if not 2 <= len(holder) <= 70:
        raise InitiativeInvalid(
            "Vul de naam van de rekeninghouder in (2 tot 70 tekens).",
            "Enter the account holder's name (2 to 70 characters).",
        )
    before = {"iban_last4": initiative.payout_iban[-4:]} if initiative.payout_iban else None
    session.execute(
        update(Initiative)
        .where(Initiative.id == initiative_id)
        .values(payout_iban=checked.compact, payout_account_holder=holder)
    )
    record(
        session,
        actor=actor,
        action="initiative.payout_account",
        subject_type="initiative",
        subject_id=initiative_id,
        before=before,
        after={"iban_last4": checked.compact[-4:]},
    )
    return checked.formatted


def report_completion(
    session: Session, initiative_id: int, *, account_id: int, report: str, today: date
) -> int:
    """The initiative was carried out: mark it completed and publish the report as news."""
    initiative = owned(session, initiative_id, account_id, for_update=True)
    if initiative.status != InitiativeStatus.funded:
        raise TransitionNotAllowed(
            "Alleen een initiatief dat het doel heeft gehaald kan als uitgevoerd worden gemeld.",
            "Only an initiative that reached its target can be reported as completed.",
        )
    report = report.strip()
    if not 20 <= len(report) <= 5_000:
        raise InitiativeInvalid(
            "Vertel in minstens een paar zinnen (20 tekens) hoe het ging.",
            "Tell in at least a few sentences (20 characters) how it went.",
        )
    service.transition(
        session, initiative_id, InitiativeStatus.completed, actor=f"account:{account_id}", today=today
    )
    return post_news(
        session,
        area_id=initiative.area_id,
        initiative_id=initiative_id,
        kind=NewsKind.completed,
        title=f"Uitgevoerd: {initiative.title}"[:160],
        body=report,
        author_name=initiative.initiator_name,
    )
