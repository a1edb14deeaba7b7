from app.errors import Conflict, Forbidden, InvalidInput


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
