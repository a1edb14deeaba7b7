"""What can go wrong with a payout; Dutch first, English for staff who chose it."""

from __future__ import annotations

from app.errors import Conflict, InvalidInput, NotFound


class PayoutNotFound(NotFound):
    slug = "payout-not-found"
    message = "Deze uitbetaling bestaat niet of valt buiten uw wijken."
    message_en = "This payout does not exist or is outside your wijken."


class BatchNotFound(NotFound):
    slug = "payout-batch-not-found"
    message = "Dit betaalbestand bestaat niet."
    message_en = "This payment file does not exist."


class NotFunded(Conflict):
    slug = "payout-not-funded"
    title = "Nog niet uit te betalen"
    title_en = "Cannot be paid out yet"
    message = "Alleen een initiatief dat het doel heeft gehaald (of is uitgevoerd) kan worden uitbetaald."
    message_en = "Only an initiative that reached its target (or was completed) can be paid out."


class NoIban(Conflict):
    slug = "payout-no-iban"
    title = "Nog geen rekeningnummer"
    title_en = "No account number yet"
    message = (
        "De initiatiefnemer heeft nog geen (geldig) IBAN en naam van de rekeninghouder ingevuld. "
        "Vraag de initiatiefnemer dit in te vullen op de pagina van het initiatief."
    )
    message_en = (
        "The initiator has not entered a (valid) IBAN and account holder yet. "
        "Ask the initiator to enter them on the initiative's page."
    )


class AlreadyApproved(Conflict):
    slug = "payout-already-approved"
    title = "Al goedgekeurd"
    title_en = "Already approved"
    message = "De uitbetaling voor dit initiatief is al goedgekeurd."
    message_en = "The payout for this initiative has already been approved."


class NothingToPay(Conflict):
    slug = "payout-nothing-to-pay"
    title = "Geen geld om uit te betalen"
    title_en = "No money to pay out"
    message = "Er staat geen geld meer op de rekening van dit initiatief."
    message_en = "The initiative's account holds no money any more."


class NothingToExport(Conflict):
    slug = "payout-nothing-to-export"
    title = "Niets te exporteren"
    title_en = "Nothing to export"
    message = "Er zijn geen goedgekeurde uitbetalingen die nog niet in een betaalbestand staan."
    message_en = "There are no approved payouts that are not in a payment file yet."


class DebtorNotSet(InvalidInput):
    """The municipality's own account is not configured (or not valid): no SEPA file can be made."""

    status = 409
    slug = "payout-debtor-not-set"
    title = "Rekening van de gemeente ontbreekt"
    title_en = "Municipality's account missing"


class NotExported(Conflict):
    slug = "payout-not-exported"
    title = "Nog niet naar de bank"
    title_en = "Not sent to the bank yet"
    message = (
        "Alleen een uitbetaling die in een betaalbestand staat, kan als betaald worden gemarkeerd. "
        "Exporteer eerst het betaalbestand."
    )
    message_en = (
        "Only a payout that is in a payment file can be marked as paid. Export the payment file first."
    )


class BalanceChanged(Conflict):
    slug = "payout-balance-changed"
    title = "Bedrag klopt niet meer"
    title_en = "Amount no longer correct"
    message = (
        "Op de rekening van het initiatief staat minder dan het goedgekeurde bedrag. Er is niets geboekt. "
        "Neem contact op met de functioneel beheerder."
    )
    message_en = (
        "The initiative's account holds less than the approved amount. Nothing was booked. "
        "Contact the application manager."
    )


class BadFilter(InvalidInput):
    slug = "payout-bad-filter"
    message = "Dit filter bestaat niet. Kies een status uit de lijst."
    message_en = "This filter does not exist. Choose a status from the list."


class FileNotValid(Conflict):
    slug = "payout-file-not-valid"
    title = "Betaalbestand niet gemaakt"
    title_en = "Payment file not made"
    message = (
        "Het betaalbestand klopt niet met het SEPA-schema (pain.001), dus het is niet gemaakt. "
        "Controleer de instellingen van de rekening van de gemeente en de namen van de rekeninghouders."
    )
    message_en = (
        "The payment file does not match the SEPA schema (pain.001), so it was not made. "
        "Check the settings of the municipality's account and the account holders' names."
    )
