from app.errors import Conflict, InvalidInput, NotFound


class InitiativeNotFound(NotFound):
    slug = "initiative-not-found"
    title = "Initiatief niet gevonden"
    title_en = "Initiative not found"

    message = "Dit initiatief bestaat niet (meer)."
    message_en = "This initiative does not exist (any more)."


class InitiativeNotOpen(Conflict):
    slug = "initiative-not-open"
    title = "Initiatief staat niet open"
    title_en = "Initiative not open"

    message = "Aan dit initiatief kunt u nu niet geven: het staat niet (meer) open."
    message_en = "You cannot give to this initiative now: it is not (or no longer) open."


class InitiativeAlreadyFunded(Conflict):
    slug = "initiative-funded"
    title = "Al volledig gefinancierd"
    title_en = "Already fully funded"

    message = "Dit initiatief heeft het streefbedrag al gehaald. Uw tegoed blijft op uw voucher."
    message_en = "This initiative has already reached its target. Your balance stays on your voucher."


class TransitionNotAllowed(Conflict):
    slug = "transition-not-allowed"
    title = "Deze stap kan niet"
    title_en = "This step is not possible"


class InitiativeInvalid(InvalidInput):
    slug = "initiative-invalid"
    title = "Initiatief klopt niet"
    title_en = "Initiative is not valid"
