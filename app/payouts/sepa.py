"""The payment file for the bank (SEPA credit transfer, pain.001.001.03, built and schema-checked by
`sepaxml`) and the same rows as CSV for the finance department."""

from __future__ import annotations

import csv
import io
import re
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from sepaxml import SepaTransfer
from sepaxml.validation import ValidationError

from app.config import Settings
from app.payouts.errors import DebtorNotSet, FileNotValid

SCHEMA = "pain.001.001.03"
NAMESPACE = f"urn:iso:std:iso:20022:tech:xsd:{SCHEMA}"
# The characters every SEPA bank accepts (EPC "Latin character set"); anything else becomes a space.
_NOT_SEPA = re.compile(r"[^A-Za-z0-9/\-?:().,'+ ]")


@dataclass(frozen=True)
class Debtor:
    name: str
    iban: str
    bic: str


@dataclass(frozen=True)
class FileRow:
    """One payout as it goes into the SEPA file and the CSV."""

    end_to_end_id: str
    initiative_id: int
    title: str
    account_holder: str
    iban: str
    amount_cents: int
    approved_by: str
    approved_at: datetime


def debtor_from(settings: Settings) -> Debtor:
    """The municipality's account from the settings, or a clear refusal naming the setting to fix."""
    name, iban, bic = (
        settings.payout_debtor_name.strip(),
        settings.payout_debtor_iban.strip(),
        settings.payout_debtor_bic.strip(),
    )
    missing = [
        env
        for env, value in (
            ("PAYOUT_DEBTOR_NAME", name),
            ("PAYOUT_DEBTOR_IBAN", iban),
            ("PAYOUT_DEBTOR_BIC", bic),
        )
        if not value
    ]
    if missing:
        names = ", ".join(missing)
        raise DebtorNotSet(
            "Er kan geen betaalbestand worden gemaakt: de rekening van de gemeente is niet ingesteld. "
            f"Stel {names} in (in de omgeving of het .env-bestand van de server) en start de applicatie opnieuw.",
            "No payment file can be made: the municipality's account is not set. "
            f"Set {names} (in the server's environment or .env file) and restart the application.",
        )
    try:
        checked_iban = IBAN(iban)
    except SchwiftyException:
        raise DebtorNotSet(
            "PAYOUT_DEBTOR_IBAN is geen geldig IBAN. Verbeter de instelling en start de applicatie opnieuw.",
            "PAYOUT_DEBTOR_IBAN is not a valid IBAN. Correct the setting and restart the application.",
        ) from None
    try:
        checked_bic = BIC(bic)
    except SchwiftyException:
        raise DebtorNotSet(
            "PAYOUT_DEBTOR_BIC is geen geldige BIC. Verbeter de instelling en start de applicatie opnieuw.",
            "PAYOUT_DEBTOR_BIC is not a valid BIC. Correct the setting and restart the application.",
        ) from None
    return Debtor(name=sepa_text(name, 70), iban=checked_iban.compact, bic=str(checked_bic))


def sepa_text(text: str, max_length: int) -> str:
    """Text a bank accepts: transliterated to ASCII, limited to the SEPA character set, cut to length."""
    from text_unidecode import unidecode

    cleaned = " ".join(_NOT_SEPA.sub(" ", unidecode(text)).split())
    return cleaned[:max_length].strip() or "-"


def new_message_id(now: datetime) -> str:
    """A unique MsgId (at most 35 characters)."""
    return f"BK-{now:%Y%m%d%H%M%S}-{secrets.token_hex(6).upper()}"


def pain001(debtor: Debtor, rows: Sequence[FileRow], *, message_id: str, execution_date: date) -> str:
    """The pain.001.001.03 document for `rows`, validated against the schema by sepaxml."""
    transfer = SepaTransfer(
        {"name": debtor.name, "IBAN": debtor.iban, "BIC": debtor.bic, "batch": True, "currency": "EUR"},
        schema=SCHEMA,
    )
    for row in rows:
        transfer.add_payment(
            {
                "name": sepa_text(row.account_holder, 70),
                "IBAN": row.iban,
                "amount": row.amount_cents,
                "execution_date": execution_date,
                "description": sepa_text(f"Buurtkas initiatief {row.initiative_id} {row.title}", 140),
                "endtoend_id": row.end_to_end_id,
            }
        )
    _set_message_id(transfer, message_id)
    try:
        return bytes(transfer.export(validate=True)).decode("utf-8")
    except ValidationError:
        raise FileNotValid() from None


def _set_message_id(transfer: SepaTransfer, message_id: str) -> None:
    """sepaxml makes its own MsgId; ours is stored with the batch and is unique in the database."""
    transfer.msg_id = message_id
    document: ET.Element = transfer._xml  # sepaxml has no setter for the message id
    node = document.find("CstmrCdtTrfInitn/GrpHdr/MsgId")
    assert node is not None
    node.text = message_id


def euros(cents: int) -> str:
    """12345 → "123.45" (never through floats)."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


CSV_COLUMNS = (
    "end_to_end_id",
    "initiative_id",
    "initiative_title",
    "account_holder",
    "iban",
    "amount_eur",
    "amount_cents",
    "approved_by",
    "approved_at",
)


def payouts_csv(rows: Sequence[FileRow]) -> str:
    """The rows of a payment file as CSV (UTF-8, comma-separated, one header line)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                row.end_to_end_id,
                row.initiative_id,
                _no_formula(row.title),
                _no_formula(row.account_holder),
                row.iban,
                euros(row.amount_cents),
                row.amount_cents,
                _no_formula(row.approved_by),
                row.approved_at.isoformat(timespec="seconds"),
            ]
        )
    return out.getvalue()


def _no_formula(text: str) -> str:
    """A spreadsheet must not run a cell that starts like a formula."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
