"""The back-office menu: one list, filtered by role, shown on every staff page."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app import i18n

if TYPE_CHECKING:
    from app.staff.deps import StaffContext


def N_(message: str) -> str:
    """Mark a text for translation; it is translated when the menu is shown."""
    return message


# (address, label, administrators only)
MENU: tuple[tuple[str, str, bool], ...] = (
    ("/staff", N_("Overzicht"), False),
    ("/staff/initiatives", N_("Initiatieven"), False),
    ("/staff/news", N_("Nieuws"), False),
    ("/staff/vouchers", N_("Vouchers"), False),
    ("/staff/payouts", N_("Uitbetalingen"), False),
    ("/staff/dashboard", N_("Cijfers"), False),
    ("/staff/payments", N_("Betalingen"), True),
    ("/staff/audit", N_("Auditlog"), True),
    ("/staff/members", N_("Medewerkers"), True),
)


def staff_menu(staff: StaffContext) -> list[tuple[str, str]]:
    return [
        (href, i18n.gettext(label)) for href, label, admin_only in MENU if staff.is_admin or not admin_only
    ]
