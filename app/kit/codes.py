"""Voucher codes: 13 Crockford base32 symbols (65 random bits) plus a Crockford mod-37 check symbol.

A code is shown grouped as `K7QM-2XHD-9RTW-F5` and read tolerantly: case-insensitive, spaces and
dashes ignored, O read as 0 and I/L read as 1. Only a keyed hash (HMAC-SHA256) of the normalised code is
stored, so a database dump reveals no usable code.

Crockford's check symbol is the value mod 37, which needs five extra symbols (`*~$=U`). Codes whose check
would fall on one of those are drawn again, so every code is plain letters and digits. That removes
5/37 of the 2**65 space: about 64.8 bits of entropy remain, above the 64 the spec asks for.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHECK_ALPHABET = ALPHABET + "*~$=U"
DATA_LENGTH = 13
CODE_LENGTH = DATA_LENGTH + 1
_VALUE_LIMIT = 32**DATA_LENGTH  # 2**65

_DECODE = {symbol: index for index, symbol in enumerate(ALPHABET)}
_DECODE.update({"O": 0, "I": 1, "L": 1})
_STRIP = str.maketrans("", "", " -\t\n\r_.")


class MalformedCode(ValueError):
    """The text cannot be a voucher code: wrong length, a symbol outside the alphabet, or a bad check."""


def _encode(value: int) -> str:
    symbols = []
    for _ in range(DATA_LENGTH):
        value, digit = divmod(value, 32)
        symbols.append(ALPHABET[digit])
    return "".join(reversed(symbols))


def _value_of(data: str) -> int:
    value = 0
    for symbol in data:
        value = value * 32 + _DECODE[symbol]
    return value


def generate_code() -> str:
    """A new random code in canonical form (14 symbols, no dashes)."""
    while True:
        value = secrets.randbelow(_VALUE_LIMIT)
        check = value % 37
        if check < 32:
            return _encode(value) + ALPHABET[check]


def normalize_code(text: str) -> str:
    """Canonical form of a typed or scanned code; raises MalformedCode when it cannot be one."""
    if not isinstance(text, str) or len(text) > 64:
        raise MalformedCode("too long")
    cleaned = text.translate(_STRIP).upper()
    if len(cleaned) != CODE_LENGTH:
        raise MalformedCode("wrong length")
    try:
        digits = [_DECODE[symbol] for symbol in cleaned]
    except KeyError as exc:
        raise MalformedCode("symbol outside the alphabet") from exc
    canonical = "".join(ALPHABET[d] for d in digits)
    value = _value_of(canonical[:DATA_LENGTH])
    if value % 37 != digits[-1]:
        raise MalformedCode("check symbol does not match")
    return canonical


def format_code(code: str) -> str:
    """`K7QM2XHD9RTWF5` → `K7QM-2XHD-9RTW-F5`."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def hash_code(canonical_code: str, key: bytes) -> str:
    """The keyed hash under which a voucher is stored and looked up (hex)."""
    return hmac.new(key, canonical_code.encode("ascii"), hashlib.sha256).hexdigest()


def code_hash_key(secret_key: str) -> bytes:
    """Derive the code-hashing key from SECRET_KEY, so the key never lives in the database."""
    return hmac.new(secret_key.encode("utf-8"), b"buurtkas voucher code v1", hashlib.sha256).digest()
