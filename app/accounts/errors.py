"""What can go wrong when signing up, signing in or following a link from an e-mail."""

from __future__ import annotations

from app.errors import AppError, InvalidInput, NotFound, TooManyAttempts


class InvalidEmail(InvalidInput):
    slug = "invalid-email"
    title = "Ongeldig e-mailadres"
    title_en = "Invalid e-mail address"
    message = "Vul een geldig e-mailadres in, zoals naam@voorbeeld.nl."
    message_en = "Enter a valid e-mail address, such as name@example.com."


class PasswordTooShort(InvalidInput):
    slug = "password-too-short"
    title = "Wachtwoord te kort"
    title_en = "Password too short"
    message = "Kies een wachtwoord van minstens 10 tekens."
    message_en = "Choose a password of at least 10 characters."


class PasswordTooLong(InvalidInput):
    slug = "password-too-long"
    title = "Wachtwoord te lang"
    title_en = "Password too long"
    message = "Kies een wachtwoord van hoogstens 200 tekens."
    message_en = "Choose a password of at most 200 characters."


class PasswordTooCommon(InvalidInput):
    slug = "password-too-common"
    title = "Wachtwoord te bekend"
    title_en = "Password too common"
    message = "Dit wachtwoord wordt heel vaak gebruikt en is makkelijk te raden. Kies een ander."
    message_en = "This password is used very often and is easy to guess. Choose another one."


class SignInFailed(AppError):
    """Wrong password, unknown address or an account without a password: one answer for all three."""

    status = 400
    slug = "sign-in-failed"
    title = "Inloggen lukte niet"
    title_en = "Sign-in failed"
    message = "Het e-mailadres of het wachtwoord klopt niet. U kunt ook een inloglink laten sturen."
    message_en = "The e-mail address or the password is not correct. You can also ask for a sign-in link."


class LinkNotValid(NotFound):
    """Unknown, used or expired: one answer, so a link reveals nothing about other links."""

    slug = "link-not-valid"
    title = "Link werkt niet"
    title_en = "Link does not work"
    message = "Deze link is ongeldig, verlopen of al gebruikt. Vraag een nieuwe link aan."
    message_en = "This link is invalid, has expired or has already been used. Ask for a new link."


class TooManySignInAttempts(TooManyAttempts):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            retry_after,
            "Er is te vaak een verkeerd wachtwoord of een ongeldige link geprobeerd. "
            f"Probeer het over {retry_after} seconden opnieuw.",
            f"Too many wrong passwords or invalid links were tried. Try again in {retry_after} seconds.",
        )


class SignInRequired(AppError):
    """A page for signed-in initiators: the error handler answers 303 to the sign-in page."""

    status = 303
    slug = "sign-in-required"
    title = "Log eerst in"
    title_en = "Sign in first"
    message = "Log eerst in om deze pagina te zien."
    message_en = "Sign in first to see this page."

    def __init__(self, next_path: str) -> None:
        from urllib.parse import quote

        super().__init__()
        self.location = f"/login?next={quote(next_path, safe='/')}"
        self.headers = {"Location": self.location, "Cache-Control": "no-store"}
