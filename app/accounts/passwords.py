"""Password rules and argon2 hashing (pwdlib's recommended parameters)."""

from __future__ import annotations

from functools import cache

from pwdlib import PasswordHash

from app.accounts.errors import PasswordTooCommon, PasswordTooLong, PasswordTooShort

MIN_LENGTH = 10
MAX_LENGTH = 200

# Passwords of 10+ characters that top the breach lists (shorter ones are refused by length anyway),
# with Dutch favourites. Compared case-insensitively.
COMMON = frozenset(
    {
        "1234567890",
        "12345678910",
        "123456789a",
        "0987654321",
        "1q2w3e4r5t",
        "1qaz2wsx3edc",
        "qwertyuiop",
        "qwerty1234",
        "qwerty12345",
        "asdfghjkl1",
        "password12",
        "password123",
        "password1234",
        "iloveyou12",
        "welkom1234",
        "welkom12345",
        "wachtwoord",
        "wachtwoord1",
        "wachtwoord12",
        "wachtwoord123",
        "geheim1234",
        "buurtkas123",
    }
)


@cache
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()


@cache
def _dummy_hash() -> str:
    return _hasher().hash("buurtkas-dummy-password-for-even-timing")


def check_policy(password: str) -> None:
    """Refuse passwords that are too short, too long or among the most common ones."""
    if len(password) < MIN_LENGTH:
        raise PasswordTooShort()
    if len(password) > MAX_LENGTH:
        raise PasswordTooLong()
    if password.lower() in COMMON or len(set(password)) < 3:
        raise PasswordTooCommon()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """(matches, new hash when the parameters changed). Without a hash, a dummy is verified anyway, so an
    unknown address or a link-only account takes as long as a wrong password."""
    if password_hash is None or len(password) > MAX_LENGTH:
        _hasher().verify(password[:MAX_LENGTH], _dummy_hash())
        return False, None
    return _hasher().verify_and_update(password, password_hash)
