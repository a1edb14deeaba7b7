from app.errors import Conflict, InvalidInput, NotFound


class UnknownVoucher(NotFound):
    slug = "unknown-voucher"
    title = "Onbekende code"
    title_en = "Unknown code"

    message = "Deze vouchercode kennen we niet. Kijk of u hem goed hebt overgenomen."
    message_en = "We do not know this voucher code. Check that you copied it correctly."


class MalformedVoucherCode(InvalidInput):
    slug = "malformed-voucher-code"
    title = "Code klopt niet"
    title_en = "Code is not valid"

    message = "Dit is geen geldige vouchercode. Een code heeft 14 tekens, zoals K7QM-2XHD-9RTW-F5."
    message_en = "This is not a valid voucher code. A code has 14 characters, like K7QM-2XHD-9RTW-F5."


class VoucherReplaced(Conflict):
    slug = "voucher-replaced"
    title = "Code vervangen"
    title_en = "Code replaced"

    message = "Deze code is vervangen door een nieuwe code en werkt niet meer."
    message_en = "This code has been replaced by a new code and no longer works."


class VoucherExpired(Conflict):
    slug = "voucher-expired"
    title = "Voucher verlopen"
    title_en = "Voucher expired"

    message = "Deze voucher is verlopen."
    message_en = "This voucher has expired."


class VoucherEmpty(Conflict):
    slug = "voucher-empty"
    title = "Voucher is leeg"
    title_en = "Voucher is empty"

    message = "Het tegoed van deze voucher is al helemaal gegeven."
    message_en = "This voucher has been fully used."


class VoucherInsufficient(Conflict):
    slug = "voucher-insufficient"
    title = "Te weinig tegoed"
    title_en = "Not enough balance"

    def __init__(self, balance_cents: int) -> None:
        euros = f"{balance_cents // 100},{balance_cents % 100:02d}"
        super().__init__(
            f"Er staat nog € {euros} op deze voucher. Kies een lager bedrag.",
            f"This voucher holds €{balance_cents // 100}.{balance_cents % 100:02d}. Choose a lower amount.",
            balance_cents=balance_cents,
        )


class PeriodRulesFrozen(Conflict):
    slug = "period-frozen"
    title = "Periode ligt vast"
    title_en = "Period is frozen"


class PeriodInvalid(InvalidInput):
    slug = "period-invalid"
    title = "Periode klopt niet"
    title_en = "Period is not valid"
