from app.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyAttempts


class VoucherChanged(Conflict):
    """The voucher's balance changed under us (another tab spent it): the transaction is retried whole."""

    slug = "voucher-changed"
    title = "Tegoed is net veranderd"
    title_en = "Balance just changed"

    message = "Het tegoed van deze voucher is net veranderd. Bekijk het tegoed en probeer het opnieuw."
    message_en = "The balance of this voucher just changed. Check the balance and try again."


class OutsideVoucherArea(Forbidden):
    slug = "outside-voucher-area"
    title = "Buiten uw buurt"
    title_en = "Outside your area"

    message = "Met deze voucher kunt u alleen initiatieven in uw eigen buurt of wijk steunen."
    message_en = "This voucher can only support initiatives in your own neighbourhood or district."


class PledgeTooSmall(InvalidInput):
    slug = "pledge-too-small"
    title = "Bedrag te laag"
    title_en = "Amount too low"


class EmailAddressInvalid(InvalidInput):
    slug = "email-address-invalid"
    title = "E-mailadres onjuist"
    title_en = "E-mail address incorrect"

    message = "Dit is geen bruikbaar e-mailadres. Vul een adres in zoals naam@voorbeeld.nl."
    message_en = "This is not a usable e-mail address. Enter an address such as name@example.com."


class TooManyReceiptMails(TooManyAttempts):
    def __init__(self, retry_after: int) -> None:
        minutes = max(1, -(-retry_after // 60))
        super().__init__(
            retry_after,
            f"Dit bewijs is het afgelopen uur al vaak gemaild. Probeer het over {minutes} minuten opnieuw.",
            f"This receipt has been mailed often in the past hour. Try again in {minutes} minutes.",
        )


class ReceiptNotFound(NotFound):
    slug = "receipt-not-found"
    message = "Dit bewijs bestaat niet. Kijk of de link helemaal goed is."
    message_en = "This receipt does not exist. Check that the link is complete."
