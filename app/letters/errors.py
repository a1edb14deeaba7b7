"""The letters' own errors (light to import: the CLI maps them to messages at start-up)."""

from __future__ import annotations

from app.kit.csvfile import CsvError


class LetterSetupError(Exception):
    """The letters cannot be made (e.g. the logo cannot be read); raised before any voucher is issued."""


class AddressListError(CsvError):
    """No voucher was reissued; `problems` says why, by line."""
