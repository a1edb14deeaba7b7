"""Initiator accounts: sign up, verify the address, sign in with a password or a link, reset, sign out.

Only what is needed is stored: the normalised address, an argon2 hash of the password (none for accounts
that sign in with links only), when the address was verified and the language for e-mail. Session and link
tokens are random (256 bits); only their SHA-256 is stored, so a database dump signs nobody in.

Answers never tell whether an address has an account: sign-up sends "you already have an account" to an
existing address, and asking for a link or a reset gives the same page either way.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.accounts import passwords, repository
from app.accounts.errors import InvalidEmail, LinkNotValid, SignInFailed
from app.config import Settings
from app.mail.outbox import enqueue
from app.models import Account, TokenPurpose
from app.models.base import utcnow

log = structlog.get_logger(__name__)

SESSION_LIFETIME = timedelta(days=30)
TOKEN_LIFETIMES = {
    TokenPurpose.verify: timedelta(hours=48),
    TokenPurpose.login: timedelta(minutes=20),
    TokenPurpose.reset: timedelta(hours=1),
}
# At most one link of a kind per account per interval, so nobody can flood a mailbox through our forms.
# Earlier links keep working, so this never locks anyone out.
MAIL_INTERVAL = timedelta(seconds=60)
_LINK_PATHS = {
    TokenPurpose.verify: "/verify/",
    TokenPurpose.login: "/login/link/",
    TokenPurpose.reset: "/password/reset/",
}
_MAIL_KINDS = {
    TokenPurpose.verify: "verify",
    TokenPurpose.login: "login_link",
    TokenPurpose.reset: "reset",
}


@dataclass(frozen=True)
class SignedIn:
    """A new session: the token goes into the browser's cookie and nowhere else."""

    account_id: int
    token: str
    expires_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(raw: str) -> str:
    """The address as stored: syntax checked (no DNS lookup), normalised and lower-cased."""
    try:
        email = validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise InvalidEmail() from None
    if len(email) > 254:
        raise InvalidEmail()
    return email


def sign_up(session: Session, settings: Settings, *, email: str, password: str, locale: str) -> None:
    """Create an unverified account and send the verification link; an empty password makes an account
    that signs in with links. An address that already has an account gets a mail saying so instead."""
    email = normalise_email(email)
    password_hash = None
    if password:
        passwords.check_policy(password)
        password_hash = passwords.hash_password(password)  # hashed either way: timing tells nothing
    existing = repository.find_by_email(session, email)
    if existing is None:
        account = Account(email=email, password_hash=password_hash, locale=locale, display_name="")
        try:
            with session.begin_nested():
                session.add(account)
                session.flush()
        except IntegrityError:  # the same address signed up at the same moment
            existing = repository.find_by_email(session, email)
        else:
            _send_link(session, settings, account, TokenPurpose.verify)
            log.info("account.signed_up", account_id=account.id)
            return
    if existing is not None:
        enqueue(
            session,
            settings,
            kind="already_registered",
            to=existing.email,
            locale=existing.locale,
            context={
                "login_url": f"{settings.base_url}/login",
                "forgot_url": f"{settings.base_url}/password/forgot",
            },
        )


def verify_email(
    session: Session, settings: Settings, *, token: str, previous_session: str | None = None
) -> SignedIn:
    """Use a verification link: the address is verified and this browser signed in."""
    now = utcnow()
    account = _use_link(session, token, TokenPurpose.verify, now)
    if account.email_verified_at is None:
        account.email_verified_at = now
    log.info("account.verified", account_id=account.id)
    return _start_session(session, account, now, previous_session)


def request_magic_link(session: Session, settings: Settings, *, email: str) -> None:
    """Send a sign-in link if the address has an account; the caller shows the same page either way."""
    account = repository.find_by_email(session, normalise_email(email))
    if account is not None:
        _send_link(session, settings, account, TokenPurpose.login)


def sign_in_with_link(
    session: Session, settings: Settings, *, token: str, previous_session: str | None = None
) -> SignedIn:
    """Use a sign-in link. It proves the address, so an unverified account becomes verified; a password
    that was set before anyone proved the address is dropped and its sessions ended (account pre-hijacking:
    someone else may have signed up with this address)."""
    now = utcnow()
    account = _use_link(session, token, TokenPurpose.login, now)
    if account.email_verified_at is None:
        account.email_verified_at = now
        if account.password_hash is not None:
            account.password_hash = None
            repository.delete_sessions(session, account.id)
    return _start_session(session, account, now, previous_session)


def sign_in(session: Session, *, email: str, password: str, previous_session: str | None = None) -> SignedIn:
    """Sign in with a password. Unknown addresses, link-only accounts and wrong passwords get the same
    error after the same argon2 work. An unverified account may sign in (the pages show a reminder)."""
    try:
        account = repository.find_by_email(session, normalise_email(email))
    except InvalidEmail:
        account = None
    matches, new_hash = passwords.verify_password(password, account.password_hash if account else None)
    if account is None or not matches:
        raise SignInFailed()
    if new_hash is not None:
        account.password_hash = new_hash
    return _start_session(session, account, utcnow(), previous_session)


def request_reset(session: Session, settings: Settings, *, email: str) -> None:
    """Send a reset link if the address has an account; the caller shows the same page either way."""
    account = repository.find_by_email(session, normalise_email(email))
    if account is not None:
        _send_link(session, settings, account, TokenPurpose.reset)


def reset_password(
    session: Session, settings: Settings, *, token: str, password: str, previous_session: str | None = None
) -> SignedIn:
    """Set a new password with a reset link: every other session ends, older sign-in and reset links stop
    working, the address counts as verified, and this browser is signed in."""
    passwords.check_policy(password)
    now = utcnow()
    account = _use_link(session, token, TokenPurpose.reset, now)
    account.password_hash = passwords.hash_password(password)
    if account.email_verified_at is None:
        account.email_verified_at = now
    repository.retire_tokens(
        session, account_id=account.id, purposes=[TokenPurpose.login, TokenPurpose.reset], now=now
    )
    repository.delete_sessions(session, account.id)
    log.info("account.password_reset", account_id=account.id)
    return _start_session(session, account, now, previous_session)


def resend_verification(session: Session, settings: Settings, *, account_id: int) -> None:
    """Send the verification link again (not more than once a minute)."""
    account = repository.find_by_id(session, account_id)
    if account is not None and account.email_verified_at is None:
        _send_link(session, settings, account, TokenPurpose.verify)


def account_for_session(session: Session, token: str) -> Account | None:
    """The account signed in with this session token; None when unknown or expired."""
    return repository.account_for_session(session, token_hash(token), utcnow())


def sign_out(session: Session, *, session_token: str) -> None:
    """End this browser's session."""
    repository.delete_session(session, token_hash(session_token))


def sign_out_everywhere(session: Session, *, account_id: int) -> int:
    """End every session of the account, on every device; returns how many ended."""
    ended = repository.delete_sessions(session, account_id)
    log.info("account.signed_out_everywhere", account_id=account_id, sessions=ended)
    return ended


def purge_expired(session: Session) -> tuple[int, int]:
    """Delete expired sessions and spent or expired links: (sessions, tokens). For `buurtkas tick`."""
    return repository.purge_expired(session, now=utcnow())


def _use_link(session: Session, token: str, purpose: TokenPurpose, now: datetime) -> Account:
    if not 20 <= len(token) <= 100:
        raise LinkNotValid()
    account_id = repository.use_token(session, token_hash=token_hash(token), purpose=purpose, now=now)
    account = repository.find_by_id(session, account_id) if account_id is not None else None
    if account is None:
        raise LinkNotValid()
    return account


def _start_session(session: Session, account: Account, now: datetime, previous: str | None) -> SignedIn:
    if previous:  # a new sign-in replaces this browser's old session (no session fixation)
        repository.delete_session(session, token_hash(previous))
    token = secrets.token_urlsafe(32)
    expires_at = now + SESSION_LIFETIME
    repository.add_session(
        session, account_id=account.id, token_hash=token_hash(token), now=now, expires_at=expires_at
    )
    log.info("account.signed_in", account_id=account.id)
    return SignedIn(account_id=account.id, token=token, expires_at=expires_at)


def _send_link(session: Session, settings: Settings, account: Account, purpose: TokenPurpose) -> None:
    now = utcnow()
    if repository.recent_token_exists(
        session, account_id=account.id, purpose=purpose, since=now - MAIL_INTERVAL
    ):
        return
    token = secrets.token_urlsafe(32)
    lifetime = TOKEN_LIFETIMES[purpose]
    repository.add_token(
        session,
        account_id=account.id,
        purpose=purpose,
        token_hash=token_hash(token),
        now=now,
        expires_at=now + lifetime,
    )
    enqueue(
        session,
        settings,
        kind=_MAIL_KINDS[purpose],
        to=account.email,
        locale=account.locale,
        context={
            "url": f"{settings.base_url}{_LINK_PATHS[purpose]}{token}",
            "hours": int(lifetime.total_seconds() // 3600),
            "minutes": int(lifetime.total_seconds() // 60),
        },
    )
