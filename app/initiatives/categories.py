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
