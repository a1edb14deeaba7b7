"""Queries for accounts, their sessions and their one-time tokens. Only hashes of tokens are looked up."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from app.db import rowcount
from app.models import Account, AccountSession, AccountToken


def find_by_email(session: Session, email: str) -> Account | None:
    return session.scalars(select(Account).where(Account.email == email)).one_or_none()


def find_by_id(session: Session, account_id: int) -> Account | None:
    return session.get(Account, account_id)


def account_for_session(session: Session, token_hash: str, now: datetime) -> Account | None:
    """The account signed in with this session token, unless the session has expired."""
    return session.scalars(
        select(Account)
        .join(AccountSession, AccountSession.account_id == Account.id)
        .where(AccountSession.token_hash == token_hash, AccountSession.expires_at > now)
    ).one_or_none()


def add_session(
    session: Session, *, account_id: int, token_hash: str, now: datetime, expires_at: datetime
) -> None:
    session.add(
        AccountSession(account_id=account_id, token_hash=token_hash, created_at=now, expires_at=expires_at)
    )
    session.flush()


def delete_session(session: Session, token_hash: str) -> int:
    return rowcount(session.execute(delete(AccountSession).where(AccountSession.token_hash == token_hash)))


def delete_sessions(session: Session, account_id: int, *, keep_hash: str | None = None) -> int:
    """End every session of the account (but the one with `keep_hash`)."""
    statement = delete(AccountSession).where(AccountSession.account_id == account_id)
    if keep_hash is not None:
        statement = statement.where(AccountSession.token_hash != keep_hash)
    return rowcount(session.execute(statement))


def add_token(
    session: Session, *, account_id: int, purpose: str, token_hash: str, now: datetime, expires_at: datetime
) -> None:
    session.add(
        AccountToken(
            account_id=account_id,
            purpose=purpose,
            token_hash=token_hash,
            created_at=now,
            expires_at=expires_at,
        )
    )
    session.flush()


def recent_token_exists(session: Session, *, account_id: int, purpose: str, since: datetime) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    AccountToken.account_id == account_id,
                    AccountToken.purpose == purpose,
                    AccountToken.created_at > since,
                )
            )
        )
    )


def use_token(session: Session, *, token_hash: str, purpose: str, now: datetime) -> int | None:
    """Mark a live token used and return its account id; None when unknown, used or expired.

    One guarded UPDATE, so two clicks at the same moment can never both use it."""
    return session.execute(
        update(AccountToken)
        .where(
            AccountToken.token_hash == token_hash,
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
            AccountToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(AccountToken.account_id)
    ).scalar_one_or_none()


def retire_tokens(session: Session, *, account_id: int, purposes: list[str], now: datetime) -> int:
    """Mark every unused token of these purposes used (after a reset, older links must stop working)."""
    return rowcount(
        session.execute(
            update(AccountToken)
            .where(
                AccountToken.account_id == account_id,
                AccountToken.purpose.in_(purposes),
                AccountToken.used_at.is_(None),
            )
            .values(used_at=now)
        )
    )


def purge_expired(session: Session, *, now: datetime) -> tuple[int, int]:
    """Delete expired sessions, and tokens that expired or were used (neither is needed any more)."""
    sessions = rowcount(session.execute(delete(AccountSession).where(AccountSession.expires_at <= now)))
    tokens = rowcount(
        session.execute(
            delete(AccountToken).where((AccountToken.expires_at <= now) | AccountToken.used_at.is_not(None))
        )
    )
    return sessions, tokens
