"""The categories an initiative can have; the labels are Dutch source texts, translated when shown."""

from __future__ import annotations


def N_(message: str) -> str:
    return message


CATEGORIES: dict[str, str] = {
    "groen": N_("Groen en natuur"),
    "spelen": N_("Spelen"),
    "ontmoeten": N_("Ontmoeten"),
    "sport": N_("Sport en bewegen"),
    "cultuur": N_("Kunst en cultuur"),
    "veiligheid": N_("Veiligheid"),
    "duurzaam": N_("Duurzaamheid"),
}


def label(category: str) -> str:
    """The Dutch label (translate it with `_()` when showing it)."""
    return CATEGORIES.get(category, N_("Overig"))


STATUSES: dict[str, str] = {
    "draft": N_("Concept"),
    "submitted": N_("Ingediend, de wijkregisseur kijkt ernaar"),
    "changes_requested": N_("Wijzigingen gevraagd"),
    "published": N_("Gepubliceerd, bewoners kunnen geven"),
    "funded": N_("Doel gehaald"),
    "completed": N_("Uitgevoerd"),
    "rejected": N_("Afgewezen"),
    "withdrawn": N_("Ingetrokken"),
    "expired": N_("Verlopen zonder het doel te halen"),
    "cancelled": N_("Gestopt door de gemeente"),
}


def status_label(status: str) -> str:
    """The Dutch label of a status (translate it with `_()` when showing it)."""
    return STATUSES.get(status, status)
