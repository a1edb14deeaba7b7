"""Staff accounts: create and manage them, and sign in with a password and a TOTP code.

Signing in takes two steps. The password step names the account; the code step (a 6-digit TOTP from an
authenticator app) opens the session. An account without a confirmed TOTP secret enrols first: it is shown a
new secret as a QR code and confirms it with a code. A code is accepted once (its 30-second step is kept).

Every failed password or code counts against the account: after `staff_lockout_failures` in a row it is locked
for `staff_lockout_minutes`. Failures are also limited per client address by the pages, so a guesser is
stopped even across many accounts. Sessions last at most 10 hours and end after 30 idle minutes.

The TOTP secret is stored encrypted (Fernet) with a key derived from SECRET_KEY: a database dump alone
gives nobody a second factor.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from app.accounts.errors import InvalidEmail
from app.accounts.passwords import check_policy, hash_password, verify_password
from app.accounts.service import normalise_email
from app.audit.service import record
from app.config import Settings
from app.errors import AppError, NotFound
from app.models import Area, AreaKind, StaffArea, StaffMember, StaffRole, StaffSession
from app.models.base import utcnow
from app.staff.errors import (
    CodeNotValid,
    InvalidStaff,
    InviteNotValid,
    LastAdmin,
    SignInExpired,
    StaffExists,
    StaffLocked,
    StaffSignInFailed,
)

SESSION_IDLE = timedelta(minutes=30)
SESSION_ABSOLUTE = timedelta(hours=10)
SESSION_TOUCH = timedelta(minutes=1)
INVITE_LIFETIME = timedelta(days=3)
PENDING_LIFETIME = timedelta(minutes=5)
TOTP_ISSUER = "Buurtkas"


@dataclass(frozen=True)
class StaffSignedIn:
    staff_id: int
    token: str


@dataclass(frozen=True)
class StaffInput:
    email: str
    name: str
    role: str
    wijk_codes: tuple[str, ...] = ()
    gemeente_wide: bool = False


def actor_of(staff: StaffMember | int) -> str:
    """How a staff member is named in the audit log and in transitions."""
    return f"staff:{staff if isinstance(staff, int) else staff.id}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ---------------------------------------------------------------- TOTP secrets


@cache
def _box(secret_key: str) -> Fernet:
    key = hmac.new(secret_key.encode(), b"buurtkas.staff-totp", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal_secret(settings: Settings, secret: str) -> str:
    return _box(settings.secret_key).encrypt(secret.encode()).decode()


def open_secret(settings: Settings, sealed: str) -> str | None:
    try:
        return _box(settings.secret_key).decrypt(sealed.encode()).decode()
    except InvalidToken:
        return None  # SECRET_KEY changed: the employee enrols again after an administrator resets 2FA


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The 30-second step whose code equals `code` (now, or one step either side for clock drift)."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    found = None
    for offset in (-1, 0, 1):
        moment = now + timedelta(seconds=30 * offset)
        if hmac.compare_digest(totp.at(moment), code):
            found = totp.timecode(moment)
    return found


def provisioning_uri(settings: Settings, staff: StaffMember, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(
        name=staff.email, issuer_name=f"{TOTP_ISSUER} {settings.municipality_name}"
    )


# ---------------------------------------------------------------- creating and managing


def _clean(session: Session, data: StaffInput) -> tuple[str, str, str, list[int], bool]:
    try:
        email = normalise_email(data.email)
    except InvalidEmail as exc:
        raise InvalidStaff(exc.detail, exc.detail_en) from None
    name = " ".join(data.name.split())
    if not 1 <= len(name) <= 120:
        raise InvalidStaff(
            "Vul een naam in van hoogstens 120 tekens.", "Enter a name of at most 120 characters."
        )
    if data.role not in tuple(StaffRole):
        raise InvalidStaff(
            "Kies de rol wijkregisseur of beheerder.", "Choose the role director or administrator."
        )
    codes = sorted({code.strip().upper() for code in data.wijk_codes if code.strip()})
    if data.role == StaffRole.admin:
        return email, name, data.role, [], False
    if not codes and not data.gemeente_wide:
        raise InvalidStaff(
            "Een wijkregisseur heeft minstens één wijk (of de hele gemeente) nodig.",
            "A director needs at least one wijk (or the whole gemeente).",
        )
    rows = session.execute(
        select(Area.code, Area.id).where(Area.code.in_(codes), Area.kind == AreaKind.wijk)
    ).all()
    found = {code: area_id for code, area_id in rows}
    unknown = [code for code in codes if code not in found]
    if unknown:
        raise InvalidStaff(f"Onbekende wijk: {', '.join(unknown)}.", f"Unknown wijk: {', '.join(unknown)}.")
    return email, name, data.role, [found[code] for code in codes], data.gemeente_wide


def _area_codes(session: Session, staff_id: int) -> list[str]:
    return list(
        session.scalars(
            select(Area.code)
            .join(StaffArea, StaffArea.area_id == Area.id)
            .where(StaffArea.staff_id == staff_id)
            .order_by(Area.code)
        )
    )


def _snapshot(session: Session, staff: StaffMember) -> dict[str, object]:
    return {
        "email": staff.email,
        "name": staff.name,
        "role": staff.role,
        "wijken": _area_codes(session, staff.id),
        "gemeente_wide": staff.gemeente_wide,
        "active": staff.active,
    }


def create_staff(session: Session, data: StaffInput, *, password: str | None, actor: str) -> StaffMember:
    """A new staff member. Without a password the employee sets one through an invitation link."""
    email, name, role, area_ids, gemeente_wide = _clean(session, data)
    if password is not None:
        check_policy(password)
    if session.scalar(select(StaffMember.id).where(StaffMember.email == email)) is not None:
        raise StaffExists()
    staff = StaffMember(
        email=email,
        name=name,
        role=role,
        gemeente_wide=gemeente_wide,
        password_hash=hash_password(password) if password is not None else None,
        failed_attempts=0,
        active=True,
    )
    session.add(staff)
    session.flush()
    session.add_all(StaffArea(staff_id=staff.id, area_id=area_id) for area_id in area_ids)
    session.flush()
    record(
        session,
        actor=actor,
        action="staff.created",
        subject_type="staff",
        subject_id=staff.id,
        after=_snapshot(session, staff),
    )
    return staff


def get_staff(session: Session, staff_id: int) -> StaffMember:
    staff = session.get(StaffMember, staff_id)
    if staff is None:
        raise NotFound("Deze medewerker bestaat niet.", "This staff member does not exist.")
    return staff


def _active_admins(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(StaffMember)
            .where(StaffMember.role == StaffRole.admin, StaffMember.active.is_(True))
        )
        or 0
    )


def update_staff(
    session: Session, staff_id: int, data: StaffInput, *, active: bool, actor: str
) -> StaffMember:
    """Change name, role, wijken or whether the account is active (the address stays)."""
    staff = get_staff(session, staff_id)
    _, name, role, area_ids, gemeente_wide = _clean(
        session, StaffInput(staff.email, data.name, data.role, data.wijk_codes, data.gemeente_wide)
    )
    before = _snapshot(session, staff)
    was_admin = staff.role == StaffRole.admin and staff.active
    if was_admin and (role != StaffRole.admin or not active) and _active_admins(session) <= 1:
        raise LastAdmin()
    staff.name, staff.role, staff.gemeente_wide, staff.active = name, role, gemeente_wide, active
    session.execute(delete(StaffArea).where(StaffArea.staff_id == staff.id))
    session.add_all(StaffArea(staff_id=staff.id, area_id=area_id) for area_id in area_ids)
    if not active:
        session.execute(delete(StaffSession).where(StaffSession.staff_id == staff.id))
    session.flush()
    record(
        session,
        actor=actor,
        action="staff.updated",
        subject_type="staff",
        subject_id=staff.id,
        before=before,
        after=_snapshot(session, staff),
    )
    return staff


def reset_two_factor(session: Session, staff_id: int, *, actor: str) -> None:
    """Forget the TOTP secret (lost phone): the employee enrols again at the next sign-in."""
    staff = get_staff(session, staff_id)
    staff.totp_secret = None
    staff.totp_confirmed_at = None
    staff.last_totp_step = None
    session.execute(delete(StaffSession).where(StaffSession.staff_id == staff.id))
    record(session, actor=actor, action="staff.two_factor_reset", subject_type="staff", subject_id=staff.id)


def unlock(session: Session, staff_id: int, *, actor: str) -> None:
    staff = get_staff(session, staff_id)
    before = {"failed_attempts": staff.failed_attempts, "locked_until": staff.locked_until}
    staff.failed_attempts = 0
    staff.locked_until = None
    record(
        session,
        actor=actor,
        action="staff.unlocked",
        subject_type="staff",
        subject_id=staff.id,
        before=before,
    )


def list_staff(session: Session) -> list[tuple[StaffMember, list[str]]]:
    members = session.scalars(select(StaffMember).order_by(StaffMember.active.desc(), StaffMember.name)).all()
    rows = session.execute(
        select(StaffArea.staff_id, Area.code).join(Area, Area.id == StaffArea.area_id).order_by(Area.code)
    ).all()
    codes: dict[int, list[str]] = {}
    for staff_id, code in rows:
        codes.setdefault(staff_id, []).append(code)
    return [(member, codes.get(member.id, [])) for member in members]


# ---------------------------------------------------------------- invitations (set a password)


def _invite_signer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="buurtkas.staff-invite")


def _fingerprint(staff: StaffMember) -> str:
    return hashlib.sha256((staff.password_hash or "none").encode()).hexdigest()[:16]


def invite_token(settings: Settings, staff: StaffMember) -> str:
    """A link token that sets the password once: it stops working when the password changes."""
    return str(_invite_signer(settings).dumps({"s": staff.id, "f": _fingerprint(staff)}))


def invited_staff(session: Session, settings: Settings, token: str) -> StaffMember:
    try:
        data = _invite_signer(settings).loads(token, max_age=int(INVITE_LIFETIME.total_seconds()))
    except BadSignature:
        raise InviteNotValid() from None
    if not isinstance(data, dict) or not isinstance(data.get("s"), int):
        raise InviteNotValid()
    staff = session.get(StaffMember, data["s"])
    if staff is None or not staff.active or not hmac.compare_digest(str(data.get("f")), _fingerprint(staff)):
        raise InviteNotValid()
    return staff


def accept_invite(session: Session, settings: Settings, token: str, password: str) -> StaffMember:
    staff = invited_staff(session, settings, token)
    check_policy(password)
    staff.password_hash = hash_password(password)
    staff.failed_attempts = 0
    staff.locked_until = None
    session.execute(delete(StaffSession).where(StaffSession.staff_id == staff.id))
    record(
        session, actor=actor_of(staff), action="staff.password_set", subject_type="staff", subject_id=staff.id
    )
    return staff


# ---------------------------------------------------------------- signing in


def _locked(staff: StaffMember, now: datetime) -> bool:
    return staff.locked_until is not None and staff.locked_until > now


def _fail(session: Session, settings: Settings, staff: StaffMember, now: datetime, step: str) -> AppError:
    """Count a failure against the account (committed by the caller) and say what to show."""
    staff.failed_attempts += 1
    locked = staff.failed_attempts >= settings.staff_lockout_failures
    if locked:
        staff.locked_until = now + timedelta(minutes=settings.staff_lockout_minutes)
        staff.failed_attempts = 0
    record(
        session,
        actor=actor_of(staff),
        action="staff.locked" if locked else "staff.sign_in_failed",
        subject_type="staff",
        subject_id=staff.id,
        after={"step": step},
    )
    return StaffLocked() if locked else (StaffSignInFailed() if step == "password" else CodeNotValid())


def check_password(session: Session, settings: Settings, *, email: str, password: str) -> int | AppError:
    """The password step: the staff id, or the error to show. Failures are written, so the caller commits
    either way."""
    now = utcnow()
    try:
        address = normalise_email(email)
    except InvalidEmail:
        address = ""
    staff = session.scalars(
        select(StaffMember).where(StaffMember.email == address, StaffMember.active.is_(True))
    ).first()
    if staff is not None and _locked(staff, now):
        verify_password(password, None)  # the same time as any other attempt
        return StaffLocked()
    matches, new_hash = verify_password(password, staff.password_hash if staff is not None else None)
    if staff is None:
        return StaffSignInFailed()
    if not matches:
        return _fail(session, settings, staff, now, "password")
    if new_hash is not None:
        staff.password_hash = new_hash
    return staff.id


def pending_staff(session: Session, staff_id: int) -> StaffMember:
    """The account between the password step and the code step (still active, not locked)."""
    staff = session.get(StaffMember, staff_id)
    if staff is None or not staff.active or staff.password_hash is None:
        raise SignInExpired()
    return staff


def start_enrolment(session: Session, settings: Settings, staff_id: int) -> tuple[StaffMember, str]:
    """The secret to enrol (a new one, kept until confirmed); refused once a secret is confirmed."""
    staff = pending_staff(session, staff_id)
    if staff.totp_confirmed_at is not None:
        raise SignInExpired()
    secret = open_secret(settings, staff.totp_secret) if staff.totp_secret else None
    if secret is None:
        secret = pyotp.random_base32()
        staff.totp_secret = seal_secret(settings, secret)
    return staff, secret


def check_code(session: Session, settings: Settings, *, staff_id: int, code: str) -> StaffSignedIn | AppError:
    """The code step (also confirms an enrolment): a new session, or the error to show."""
    now = utcnow()
    staff = pending_staff(session, staff_id)
    if _locked(staff, now):
        return StaffLocked()
    secret = open_secret(settings, staff.totp_secret) if staff.totp_secret else None
    step = matching_step(secret, code, now) if secret is not None else None
    if step is None or (staff.last_totp_step is not None and step <= staff.last_totp_step):
        return _fail(session, settings, staff, now, "code")
    enrolling = staff.totp_confirmed_at is None
    staff.last_totp_step = step
    staff.totp_confirmed_at = staff.totp_confirmed_at or now
    staff.failed_attempts = 0
    staff.locked_until = None
    staff.last_sign_in_at = now
    token = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            staff_id=staff.id,
            token_hash=token_hash(token),
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_ABSOLUTE,
        )
    )
    if enrolling:
        record(
            session,
            actor=actor_of(staff),
            action="staff.two_factor_enrolled",
            subject_type="staff",
            subject_id=staff.id,
        )
    record(
        session, actor=actor_of(staff), action="staff.signed_in", subject_type="staff", subject_id=staff.id
    )
    return StaffSignedIn(staff_id=staff.id, token=token)


def staff_for_session(session: Session, token: str) -> StaffMember | None:
    """The active staff member of a live session; touches the session so idle time restarts."""
    now = utcnow()
    row = session.execute(
        select(StaffSession, StaffMember)
        .join(StaffMember, StaffMember.id == StaffSession.staff_id)
        .where(StaffSession.token_hash == token_hash(token), StaffMember.active.is_(True))
    ).first()
    if row is None:
        return None
    staff_session, staff = row
    if staff_session.expires_at <= now or staff_session.last_seen_at + SESSION_IDLE <= now:
        return None
    if staff_session.last_seen_at + SESSION_TOUCH <= now:
        session.execute(
            update(StaffSession).where(StaffSession.id == staff_session.id).values(last_seen_at=now)
        )
    return staff


def sign_out(session: Session, token: str) -> None:
    found = session.scalar(select(StaffSession.staff_id).where(StaffSession.token_hash == token_hash(token)))
    if found is not None:
        session.execute(delete(StaffSession).where(StaffSession.token_hash == token_hash(token)))
        record(
            session, actor=actor_of(found), action="staff.signed_out", subject_type="staff", subject_id=found
        )


def purge_sessions(session: Session) -> int:
    now = utcnow()
    result = session.execute(
        delete(StaffSession).where(
            (StaffSession.expires_at <= now) | (StaffSession.last_seen_at <= now - SESSION_IDLE)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


# ---------------------------------------------------------------- sending the invitation (back office)


def send_invite(session: Session, settings: Settings, staff_id: int, *, actor: str) -> int:
    """Queue the invitation mail with a link that sets the password (in the caller's transaction, so it
    goes out only if the change commits). Also serves to send it again: an earlier link keeps working
    until a password is set. Refused for a deactivated account, whose link would not work."""
    from app.errors import Conflict
    from app.mail.outbox import enqueue

    staff = get_staff(session, staff_id)
    if not staff.active:
        raise Conflict(
            "Dit account staat uit. Zet het eerst weer aan en stuur dan de uitnodiging.",
            "This account is deactivated. Activate it first, then send the invitation.",
        )
    url = f"{settings.base_url}/staff/invite/{invite_token(settings, staff)}"
    message_id = enqueue(
        session,
        settings,
        kind="staff_invite",
        to=staff.email,
        locale=staff.locale or "nl",
        context={"staff_name": staff.name, "url": url, "days": INVITE_LIFETIME.days},
    )
    record(
        session,
        actor=actor,
        action="staff.invited",
        subject_type="staff",
        subject_id=staff.id,
        after={"email": staff.email, "password_set": staff.password_hash is not None},
    )
    return message_id


def staff_with_wijken(session: Session, staff_id: int) -> tuple[StaffMember, list[str]]:
    """One staff member and the codes of their wijken (for the edit form)."""
    staff = get_staff(session, staff_id)
    return staff, _area_codes(session, staff.id)


def wijk_choices(session: Session) -> list[tuple[str, str]]:
    """(code, name) of every wijk, for the wijken a director can be given."""
    rows = session.execute(select(Area.code, Area.name).where(Area.kind == AreaKind.wijk).order_by(Area.code))
    return [(code, name) for code, name in rows]
