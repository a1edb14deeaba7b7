"""What can go wrong when staff sign in or are managed."""

from __future__ import annotations

from app.errors import AppError, Conflict, InvalidInput


class StaffSignInFailed(AppError):
    """Unknown address, wrong password or wrong code: one answer for all."""

    status = 400
    slug = "staff-sign-in-failed"
    title = "Inloggen lukte niet"
    title_en = "Sign-in failed"
    message = "Het e-mailadres, het wachtwoord of de code klopt niet."
    message_en = "The e-mail address, the password or the code is not correct."


class StaffLocked(AppError):
    status = 423
    slug = "staff-locked"
    title = "Account tijdelijk geblokkeerd"
    title_en = "Account locked for now"
    message = (
        "Er is te vaak een verkeerd wachtwoord of een verkeerde code ingevuld. "
        "Het account is een kwartier geblokkeerd. Lukt het daarna niet, vraag dan een beheerder om hulp."
    )
    message_en = (
        "A wrong password or code was entered too often. The account is locked for fifteen minutes. "
        "If it still does not work after that, ask an administrator for help."
    )


class CodeNotValid(InvalidInput):
    slug = "totp-not-valid"
    title = "Code klopt niet"
    title_en = "Code not correct"
    message = "Deze code klopt niet of is al gebruikt. Vul de nieuwe code van 6 cijfers uit uw app in."
    message_en = "This code is not correct or was used already. Enter the new 6-digit code from your app."


class SignInExpired(AppError):
    status = 400
    slug = "staff-sign-in-expired"
    title = "Opnieuw inloggen"
    title_en = "Sign in again"
    message = "Het inloggen duurde te lang. Begin opnieuw met uw e-mailadres en wachtwoord."
    message_en = "Signing in took too long. Start again with your e-mail address and password."


class InviteNotValid(AppError):
    status = 400
    slug = "staff-invite-not-valid"
    title = "Link werkt niet meer"
    title_en = "Link no longer works"
    message = "Deze link is verlopen of al gebruikt. Vraag een beheerder om een nieuwe uitnodiging."
    message_en = "This link has expired or was used already. Ask an administrator for a new invitation."


class StaffExists(Conflict):
    slug = "staff-exists"
    title = "Bestaat al"
    title_en = "Already exists"
    message = "Er is al een medewerker met dit e-mailadres."
    message_en = "There is already a staff member with this e-mail address."


class InvalidStaff(InvalidInput):
    slug = "invalid-staff"
    title = "Medewerker niet opgeslagen"
    title_en = "Staff member not saved"


class LastAdmin(Conflict):
    slug = "last-admin"
    title = "Laatste beheerder"
    title_en = "Last administrator"
    message = "Dit is de laatste actieve beheerder. Maak eerst een andere beheerder aan."
    message_en = "This is the last active administrator. Create another administrator first."


class StaffSignInRequired(AppError):
    """A back-office page without a staff session: the error handler answers 303 to the sign-in page."""

    status = 303
    slug = "staff-sign-in-required"
    title = "Log eerst in"
    title_en = "Sign in first"
    message = "Log eerst in als medewerker om deze pagina te zien."
    message_en = "Sign in as a staff member first to see this page."

    def __init__(self, next_path: str) -> None:
        from urllib.parse import quote

        super().__init__()
        self.headers = {
            "Location": f"/staff/login?next={quote(next_path, safe='/')}",
            "Cache-Control": "no-store",
        }


class AdminOnly(AppError):
    status = 403
    slug = "admin-only"
    title = "Alleen voor beheerders"
    title_en = "Administrators only"
    message = "Dit kan alleen een beheerder doen."
    message_en = "Only an administrator can do this."
