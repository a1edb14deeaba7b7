"""Demo content for the Buurtkas showcase municipality Almelo (CBS gemeentecode GM0141).

Provenance
----------
* Wijken (``data/areas.csv``): the twelve wijk codes and names ``WK014110`` (Binnenstad) up to
  ``WK014121`` (Bornerbroek) follow the CBS Wijk- en Buurtkaart indeling of Almelo as published in
  CBS "Kerncijfers wijken en buurten" (wijk 10 Binnenstad, 11 De Riet, 12 Noorderkwartier,
  13 Sluitersveld, 14 Wierdense Hoek, 15 Nieuwstraat-Kwartier, 16 Ossenkoppelerhoek, 17 Hofkamp,
  18 Schelfhorst, 19 Windmolenbroek, 20 Aadorp, 21 Bornerbroek).
* Buurten: the buurt *names* are real CBS buurt names of Almelo (older editions spell "en omgeving",
  recent ones "e.o."). Only two buurt codes are confirmed from CBS tables and used as such:
  ``BU01411200`` (Vriezenveenseweg e.o. Haghoek Oost) and ``BU01411202`` (Vriezenveenseweg e.o.
  Haghoek West). All other buurt codes, and the wijk each buurt is filed under, are a plausible
  reconstruction in the CBS format (``BU`` + ``0141`` + wijk + volgnummer), not an authoritative copy.
  The file is a residential subset: business-park buurten (e.g. Bedrijvenpark Twente, XL
  Businesspark) and a few small buurten are left out. Do not use this file for real statistics; load
  the CBS Wijk- en Buurtkaart of the relevant year for that.
* Streets (``data/streets.csv``): a mix of real Almelo street names (e.g. Grotestraat, Koornmarkt,
  Wierdensestraat, Bornsestraat, Vriezenveenseweg, Ootmarsumsestraat, Sluitersveldssingel, Frans
  Halsstraat, Westermaatweg in Aadorp) and realistic invented ones; their buurt assignment, postcode
  prefixes and house-number ranges are approximations. Aadorp (7611) and Bornerbroek (7627) use their
  own postal prefixes; the town of Almelo uses 7601-7609.
* Households: ``generate_households`` *generates* fictitious addresses from the street list. They are
  not real households and the ``address_id`` values only look like BAG nummeraanduiding ids.
* Initiatives and news: fictional demo content. Wijkcentra names (de Schöppe, de Schelf, de
  Goossenmaat, MFA Eninver, de Driehoek, Möll'nwiek, Noaberhoes, 't Aahoes, 't Brookshoes, 't Dok)
  are real Almelo venues; the initiatives, people and amounts are made up.
"""

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

AREAS_CSV: Path = Path(__file__).parent / "data" / "areas.csv"
STREETS_CSV: Path = Path(__file__).parent / "data" / "streets.csv"

MUNICIPALITY_CODE = "GM0141"
MAX_HOUSEHOLDS = 50_000

# Wijken whose addresses belong to a village woonplaats instead of Almelo.
VILLAGE_WIJKEN: dict[str, str] = {"WK014120": "Aadorp", "WK014121": "Bornerbroek"}

# PostNL does not use F, I, O, Q, U and Y in postcode letters, nor the pairs SA, SD and SS.
_POSTCODE_LETTERS = "ABCDEGHJKLMNPRSTVWXZ"
_FORBIDDEN_PAIRS = frozenset({"SA", "SD", "SS"})
# A new postcode every this many house numbers along a street.
_POSTCODE_BLOCK = 24
_HUISLETTERS = ("A", "B")
_TOEVOEGINGEN = ("1", "2", "bis")
_RANDOM_ATTEMPTS = 40


@dataclass(frozen=True)
class _Street:
    buurtcode: str
    straat: str
    max_huisnummer: int
    postcodes: tuple[str, ...]  # one postcode per block of house numbers

    def postcode_for(self, huisnummer: int) -> str:
        return self.postcodes[(huisnummer - 1) // _POSTCODE_BLOCK]


def load_areas() -> list[dict[str, str]]:
    """Rows of ``areas.csv`` (gemeente, wijken, buurten) as dicts."""
    with AREAS_CSV.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def load_streets() -> list[dict[str, str]]:
    """Rows of ``streets.csv`` as dicts."""
    with STREETS_CSV.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _letter_pairs(prefix: str) -> list[str]:
    """All allowed postcode letter pairs, in an order that depends only on the numeric prefix."""
    pairs = [a + b for a in _POSTCODE_LETTERS for b in _POSTCODE_LETTERS if a + b not in _FORBIDDEN_PAIRS]
    random.Random(f"postcode-{prefix}").shuffle(pairs)
    return pairs


@lru_cache(maxsize=1)
def _streets_by_buurt() -> dict[str, tuple[_Street, ...]]:
    """Streets per buurt with fixed postcodes (independent of the household seed)."""
    pools: dict[str, list[str]] = {}
    result: dict[str, list[_Street]] = {}
    for row in load_streets():
        prefix = row["postcode_prefix"]
        max_nr = int(row["max_huisnummer"])
        pool = pools.setdefault(prefix, _letter_pairs(prefix))
        blocks = (max_nr - 1) // _POSTCODE_BLOCK + 1
        if len(pool) < blocks:
            raise ValueError(f"postcode prefix {prefix} has run out of letter pairs")
        postcodes = tuple(prefix + pool.pop() for _ in range(blocks))
        street = _Street(row["buurtcode"], row["straat"], max_nr, postcodes)
        result.setdefault(row["buurtcode"], []).append(street)
    return {code: tuple(streets) for code, streets in result.items()}


@lru_cache(maxsize=1)
def _woonplaats_by_buurt() -> dict[str, str]:
    return {
        row["code"]: VILLAGE_WIJKEN.get(row["parent_code"], "Almelo")
        for row in load_areas()
        if row["kind"] == "buurt"
    }


def _random_address(
    rng: random.Random, streets: tuple[_Street, ...], used: set[tuple[str, str, str, str]]
) -> tuple[_Street, int, str, str] | None:
    """A free address in one buurt: random tries first, then a deterministic scan."""
    for _ in range(_RANDOM_ATTEMPTS):
        street = rng.choice(streets)
        nr = rng.randint(1, street.max_huisnummer)
        letter = rng.choice(_HUISLETTERS) if rng.random() < 0.08 else ""
        toevoeging = rng.choice(_TOEVOEGINGEN) if rng.random() < 0.07 else ""
        if (street.postcode_for(nr), str(nr), letter, toevoeging) not in used:
            return street, nr, letter, toevoeging
    for street in streets:
        for nr in range(1, street.max_huisnummer + 1):
            for letter in ("", *_HUISLETTERS):
                for toevoeging in ("", *_TOEVOEGINGEN):
                    if (street.postcode_for(nr), str(nr), letter, toevoeging) not in used:
                        return street, nr, letter, toevoeging
    return None


def generate_households(count: int, *, seed: int = 141) -> Iterator[dict[str, str]]:
    """Yield ``count`` fictitious but plausible Almelo addresses, spread evenly over all buurten.

    Deterministic for a given ``seed``. Every row has the keys ``address_id``, ``postcode``,
    ``huisnummer``, ``huisletter``, ``toevoeging``, ``straat``, ``woonplaats`` and ``buurtcode`` (all
    strings). Addresses are unique on (postcode, huisnummer, huisletter, toevoeging) and address ids
    are unique 16-digit strings starting with ``0141200000``.
    """
    if count < 0:
        raise ValueError("count must not be negative")
    if count > MAX_HOUSEHOLDS:
        raise ValueError(f"count must be at most {MAX_HOUSEHOLDS}")
    return _households(count, seed)


def _households(count: int, seed: int) -> Iterator[dict[str, str]]:
    rng = random.Random(seed)
    streets = _streets_by_buurt()
    woonplaats = _woonplaats_by_buurt()
    buurten = sorted(streets)
    rng.shuffle(buurten)
    used: set[tuple[str, str, str, str]] = set()
    full: set[str] = set()
    next_id = rng.randrange(100_000, 150_000)
    produced = 0
    turn = 0
    while produced < count:
        if len(full) == len(buurten):
            raise ValueError(f"the street list has room for only {produced} addresses")
        buurtcode = buurten[turn % len(buurten)]
        turn += 1
        if buurtcode in full:
            continue
        picked = _random_address(rng, streets[buurtcode], used)
        if picked is None:
            full.add(buurtcode)
            continue
        street, nr, letter, toevoeging = picked
        postcode = street.postcode_for(nr)
        used.add((postcode, str(nr), letter, toevoeging))
        yield {
            "address_id": f"0141200000{next_id:06d}",
            "postcode": postcode,
            "huisnummer": str(nr),
            "huisletter": letter,
            "toevoeging": toevoeging,
            "straat": street.straat,
            "woonplaats": woonplaats.get(buurtcode, "Almelo"),
            "buurtcode": buurtcode,
        }
        next_id += rng.randint(1, 7)
        produced += 1


def _lines(*items: tuple[str, int]) -> list[dict[str, Any]]:
    return [{"description": description, "amount_cents": amount} for description, amount in items]


INITIATIVES: list[dict[str, Any]] = [
    {
        "title": "Twee nieuwe bankjes bij de speeltuin naast de Schelf",
        "summary": "Ouders en opa's en oma's willen een fijne plek om te zitten terwijl de kinderen spelen.",
        "description": (
            "Bij de speeltuin naast wijkcentrum **de Schelf** staat nu maar één oud bankje. "
            "Op zonnige middagen staan veel ouders en grootouders daarom de hele tijd.\n\n"
            "Wij willen twee stevige bankjes met een rugleuning plaatsen, op een stukje bestrating. "
            "De gemeente zorgt voor het onderhoud. Buurtbewoners helpen mee met het aanleggen."
        ),
        "category": "spelen",
        "area_code": "BU01411801",
        "target_cents": 182000,
        "budget_lines": _lines(
            ("Twee bankjes met rugleuning", 139000),
            ("Tegels en zand voor de ondergrond", 18000),
            ("Plaatsen door hovenier", 25000),
        ),
        "state": "published",
        "funded_share": 0.62,
        "days_left": 21,
        "initiator": "Joyce",
    },
    {
        "title": "Geveltuinen in de Binnenstad-Zuid",
        "summary": (
            "Samen tegels eruit en planten erin: twintig geveltuinen maken de straat groener en koeler."
        ),
        "description": (
            "Veel straten in de binnenstad zijn grijs en stenig. Een geveltuin is een smalle strook "
            "met planten langs de gevel. Het ziet er mooi uit en regenwater zakt beter weg.\n\n"
            "Op een zaterdag halen we samen de tegels weg en zetten we de planten erin. Iedereen "
            "krijgt uitleg over het onderhoud. Na afloop drinken we koffie op de Haven Zuidzijde."
        ),
        "category": "groen",
        "area_code": "BU01411001",
        "target_cents": 105000,
        "budget_lines": _lines(
            ("Vaste planten en klimplanten voor 20 geveltuinen", 60000),
            ("Tuinaarde en compost", 22000),
            ("Gereedschap om te lenen", 15000),
            ("Koffie, thee en uitleg over onderhoud", 8000),
        ),
        "state": "published",
        "funded_share": 0.35,
        "days_left": 40,
        "initiator": "Fatma",
    },
    {
        "title": "Buurtbarbecue in de Rumerslanden",
        "summary": "Een middag samen eten, spelen en kennismaken met de nieuwe buren in de Rumerslanden.",
        "description": (
            "In de Rumerslanden zijn de afgelopen jaren veel nieuwe mensen komen wonen. Veel buren "
            "kennen elkaar nog niet. Daarom organiseren we een grote buurtbarbecue op het grasveld.\n\n"
            "Er is vlees, vis en vegetarisch eten. Voor de kinderen zijn er spelletjes. Iedereen "
            "is welkom, ook als je niet kunt betalen."
        ),
        "category": "ontmoeten",
        "area_code": "BU01411300",
        "target_cents": 75000,
        "budget_lines": _lines(
            ("Vlees, vis en vegetarisch eten", 40000),
            ("Huur barbecues en partytent", 20000),
            ("Drinken", 10000),
            ("Spelletjes en muziek", 5000),
        ),
        "state": "funded",
        "funded_share": 1.0,
        "days_left": 0,
        "initiator": "Henk",
    },
    {
        "title": "Jeu-de-boulesbaan bij MFA Eninver",
        "summary": "Een echte jeu-de-boulesbaan naast MFA Eninver, voor jong en oud in de Wierdensehoek.",
        "description": (
            "Elke week spelen een paar buren jeu de boules op het pad achter **MFA Eninver**. "
            "Dat gaat eigenlijk niet goed: de grond is te zacht en er is geen rand.\n\n"
            "Met een goede baan van split kunnen meer mensen meedoen. Er komt ook een bankje bij. "
            "De boules liggen in het MFA, zodat iedereen ze kan lenen."
        ),
        "category": "sport",
        "area_code": "WK014114",
        "target_cents": 240000,
        "budget_lines": _lines(
            ("Grondwerk en split voor de baan", 145000),
            ("Opsluitbanden als rand", 38000),
            ("Vier sets boules", 12000),
            ("Bankje naast de baan", 35000),
            ("Afvalbak", 10000),
        ),
        "state": "published",
        "funded_share": 0.81,
        "days_left": 9,
        "initiator": "Gerrit",
    },
    {
        "title": "Buurtbieb bij de Goossenmaat",
        "summary": "Een kastje met boeken bij wijkcentrum de Goossenmaat: pak een boek, breng een boek.",
        "description": (
            "Veel mensen hebben boeken thuis die ze al gelezen hebben. In een buurtbieb kun je ze "
            "delen met de buren. Je pakt een boek en je brengt later een ander boek terug.\n\n"
            "Het kastje komt bij de ingang van **de Goossenmaat** in het Nieuwstraatkwartier. "
            "Er komen ook kinderboeken en boeken in andere talen in."
        ),
        "category": "cultuur",
        "area_code": "BU01411500",
        "target_cents": 45000,
        "budget_lines": _lines(
            ("Weerbestendig boekenkastje", 28500),
            ("Verf en dakje", 6500),
            ("Eerste voorraad kinderboeken", 5000),
            ("Plaatsen op paal", 5000),
        ),
        "state": "published",
        "funded_share": 0.18,
        "days_left": 55,
        "initiator": "Marieke",
    },
    {
        "title": "AED-kast aan de gevel van 't Aahoes",
        "summary": (
            "Een AED die dag en nacht te pakken is, zodat Aadorp sneller kan helpen bij een hartstilstand."
        ),
        "description": (
            "In Aadorp hing nog geen AED die altijd bereikbaar is. Bij een hartstilstand telt "
            "elke minuut. Daarom wilden we een AED in een verwarmde kast aan de gevel van "
            "**'t Aahoes**.\n\n"
            "De AED hangt er nu. Twintig buren hebben een reanimatiecursus gevolgd en zijn "
            "aangemeld als burgerhulpverlener."
        ),
        "category": "veiligheid",
        "area_code": "BU01412000",
        "target_cents": 250000,
        "budget_lines": _lines(
            ("AED-apparaat", 145000),
            ("Verwarmde buitenkast", 65000),
            ("Plaatsen en elektrische aansluiting", 20000),
            ("Reanimatiecursus voor 20 buren", 20000),
        ),
        "state": "completed",
        "funded_share": 1.0,
        "days_left": 0,
        "initiator": "Bennie",
    },
    {
        "title": "Sinterklaasfeest in de Schöppe",
        "summary": (
            "Een gezellig Sinterklaasfeest voor alle kinderen uit De Riet, met een cadeautje voor ieder kind."
        ),
        "description": (
            "Niet elk gezin in De Riet kan Sinterklaas vieren zoals het zou willen. Wij willen dat "
            "alle kinderen uit de buurt een fijne middag hebben in wijkcentrum **de Schöppe**.\n\n"
            "Sinterklaas komt op bezoek, er is een goochelaar en elk kind krijgt een cadeautje. "
            "Vrijwilligers uit de buurt helpen met versieren en inpakken."
        ),
        "category": "ontmoeten",
        "area_code": "WK014111",
        "target_cents": 90000,
        "budget_lines": _lines(
            ("Cadeautjes voor 80 kinderen", 40000),
            ("Pepernoten, chocolademelk en fruit", 15000),
            ("Zaalhuur de Schöppe", 20000),
            ("Versiering", 5000),
            ("Goochelaar", 10000),
        ),
        "state": "published",
        "funded_share": 0.45,
        "days_left": 30,
        "initiator": "Samira",
    },
    {
        "title": "Moestuin achter het Noaberhoes",
        "summary": "Samen groenten kweken in houten moestuinbakken achter het Noaberhoes in Windmolenbroek.",
        "description": (
            "Achter het **Noaberhoes** ligt een stuk grond waar bijna niets mee gebeurt. Wij willen "
            "er een moestuin van maken met hoge bakken, zodat ook ouderen makkelijk kunnen tuinieren.\n\n"
            "Kinderen van de basisschool komen een keer per week helpen. De oogst delen we met "
            "elkaar en met de voedselbank."
        ),
        "category": "groen",
        "area_code": "BU01411900",
        "target_cents": 160000,
        "budget_lines": _lines(
            ("Hout voor zes hoge moestuinbakken", 62000),
            ("Moestuinaarde", 38000),
            ("Zaden en plantjes", 15000),
            ("Regenton en slangen", 20000),
            ("Afsluitbare gereedschapskist", 25000),
        ),
        "state": "published",
        "funded_share": 0.27,
        "days_left": 47,
        "initiator": "Wim",
    },
    {
        "title": "Voetbaldoeltjes op het veldje bij de Driehoek",
        "summary": (
            "Twee kleine doeltjes op het grasveld bij de "
            "Driehoek, zodat kinderen niet meer op straat voetballen."
        ),
        "description": (
            "De kinderen in de Ossenkoppelerhoek voetballen nu vaak op straat, met jassen als doel. "
            "Dat is niet veilig. Op het grasveld bij wijkcentrum **de Driehoek** is genoeg ruimte.\n\n"
            "Met twee stevige doeltjes kunnen ze daar spelen. De buurtsportcoach organiseert in "
            "de vakanties een klein toernooi."
        ),
        "category": "sport",
        "area_code": "BU01411601",
        "target_cents": 135000,
        "budget_lines": _lines(
            ("Twee stalen pannakooi-doeltjes", 98000),
            ("Netten", 12000),
            ("Plaatsen en verankeren", 25000),
        ),
        "state": "published",
        "funded_share": 0.09,
        "days_left": 58,
        "initiator": "Mehmet",
    },
    {
        "title": "Repair Café in 't Brookshoes",
        "summary": (
            "Eén keer per maand samen spullen repareren in 't Brookshoes in plaats van ze weg te gooien."
        ),
        "description": (
            "Een kapotte broodrooster, een fiets met een slag in het wiel of een broek met een gat: "
            "vaak is het makkelijk te maken. In Bornerbroek zijn genoeg handige mensen die willen helpen.\n\n"
            "In **'t Brookshoes** komt een vaste werkplek met gereedschap. Elke eerste zaterdag "
            "van de maand is iedereen welkom met iets dat kapot is."
        ),
        "category": "duurzaam",
        "area_code": "BU01412100",
        "target_cents": 52000,
        "budget_lines": _lines(
            ("Gereedschap en naaimachine", 30000),
            ("Werkbank", 14000),
            ("Koffie en thee", 3000),
            ("Flyers en posters", 5000),
        ),
        "state": "funded",
        "funded_share": 1.0,
        "days_left": 0,
        "initiator": "Annie",
    },
    {
        "title": "Buurtpreventie in de Hofkamp",
        "summary": "Buren lopen samen een ronde door de wijk en letten op elkaar en op elkaars huis.",
        "description": (
            "Na een paar inbraken willen buren in de Hofkamp meer op elkaar letten. Met een vaste "
            "groep lopen we 's avonds een ronde door de buurt.\n\n"
            "We willen borden bij de ingangen van de wijk en hesjes en zaklampen voor de lopers. "
            "We werken samen met de wijkagent."
        ),
        "category": "veiligheid",
        "area_code": "WK014117",
        "target_cents": 38000,
        "budget_lines": _lines(
            ("Zes borden buurtpreventie", 24000),
            ("Hesjes en zaklampen", 9000),
            ("Startavond met de wijkagent", 5000),
        ),
        "state": "submitted",
        "funded_share": 0.0,
        "days_left": 0,
        "initiator": "Ruud",
    },
    {
        "title": "Zomerconcerten in de binnenstad van Almelo",
        "summary": "Vier gratis concerten op zondagmiddag met muzikanten uit Almelo, Aadorp en Bornerbroek.",
        "description": (
            "Almelo heeft veel muzikanten: koren, bands en fanfares. In de zomer willen we vier "
            "gratis concerten op zondagmiddag in de binnenstad.\n\n"
            "Elke keer spelen er muzikanten uit een andere wijk of een ander dorp. Zo leren "
            "inwoners uit de hele gemeente elkaar kennen."
        ),
        "category": "cultuur",
        "area_code": MUNICIPALITY_CODE,
        "target_cents": 220000,
        "budget_lines": _lines(
            ("Huur podium", 90000),
            ("Geluid en licht", 65000),
            ("Vergoeding muzikanten", 50000),
            ("Mobiele toiletten", 15000),
        ),
        "state": "published",
        "funded_share": 0.71,
        "days_left": 6,
        "initiator": "Linda",
    },
    {
        "title": "Afvalprikkers voor elke wijk",
        "summary": (
            "Zestig afvalprikkers en hesjes, te leen in de wijkcentra, voor wie zwerfafval wil opruimen."
        ),
        "description": (
            "Veel mensen ruimen graag zwerfafval op tijdens een wandeling. Maar niet iedereen heeft "
            "een afvalprikker of een hesje.\n\n"
            "In elk wijkcentrum van Almelo, Aadorp en Bornerbroek komen vijf prikkers te leen. "
            "Het plan heeft helaas niet genoeg steun gekregen binnen de termijn."
        ),
        "category": "duurzaam",
        "area_code": MUNICIPALITY_CODE,
        "target_cents": 30000,
        "budget_lines": _lines(
            ("Zestig afvalprikkers", 18000),
            ("Vuilniszakken en zakhouders", 7000),
            ("Veiligheidshesjes", 5000),
        ),
        "state": "expired",
        "funded_share": 0.0,
        "days_left": -5,
        "initiator": "Kees",
    },
    {
        "title": "Open podium voor jongeren in 't Dok",
        "summary": (
            "Een maandelijkse avond in 't Dok waar jongeren uit Almelo muziek, rap en theater laten zien."
        ),
        "description": (
            "Jongeren in Almelo maken muziek, rappen of doen aan theater, maar hebben weinig plekken "
            "om op te treden. In **'t Dok** in de binnenstad is daar ruimte voor.\n\n"
            "Eén keer per maand is er een open podium. Jongeren helpen zelf met het geluid, het "
            "licht en de promotie."
        ),
        "category": "cultuur",
        "area_code": "WK014110",
        "target_cents": 64000,
        "budget_lines": _lines(
            ("Geluidsinstallatie", 30000),
            ("Lampen voor het podium", 14000),
            ("Promotie op sociale media en posters", 8000),
            ("Avond voor de vrijwilligers", 12000),
        ),
        "state": "draft",
        "funded_share": 0.0,
        "days_left": 0,
        "initiator": "Daan",
    },
]


NEWS: list[dict[str, Any]] = [
    {
        "area_code": MUNICIPALITY_CODE,
        "title": "De Buurtkas is open: elk huishouden krijgt een tegoedbon",
        "body": (
            "Vanaf vandaag kunnen inwoners van Almelo, Aadorp en Bornerbroek plannen voor hun buurt "
            "steunen. Elk huishouden krijgt per post een **tegoedbon** met een persoonlijke code.\n\n"
            "Met die code verdeel je je tegoed over de plannen die jij belangrijk vindt. Je kiest "
            "zelf hoeveel je aan welk plan geeft."
        ),
        "days_ago": 28,
    },
    {
        "area_code": MUNICIPALITY_CODE,
        "title": "Zo steun je een plan met je tegoedbon",
        "body": (
            "Ga naar de website en vul de code van je tegoedbon in. Je ziet dan alle plannen in jouw "
            "wijk en in de hele gemeente.\n\n"
            "Hulp nodig? In elk wijkcentrum zit op dinsdagochtend iemand die je verder helpt."
        ),
        "days_ago": 20,
    },
    {
        "area_code": "WK014119",
        "title": "Inloopavond over de Buurtkas in Möll'nwiek",
        "body": (
            "Heb je een idee voor Windmolenbroek, maar weet je niet hoe je begint? Kom dan naar de "
            "inloopavond in wijkcentrum **Möll'nwiek**.\n\n"
            "De wijkregisseur en buren die al een plan hebben ingediend vertellen hoe het werkt. "
            "De koffie staat klaar vanaf 19.30 uur."
        ),
        "days_ago": 12,
    },
    {
        "area_code": "BU01412000",
        "title": "De AED hangt aan de gevel van 't Aahoes",
        "body": (
            "Het is gelukt: dankzij de steun van de buren hangt er nu een AED aan de gevel van "
            "**'t Aahoes**. De kast is dag en nacht open voor wie een code krijgt van de meldkamer.\n\n"
            "Twintig inwoners van Aadorp hebben een reanimatiecursus gevolgd. In het voorjaar komt "
            "er een tweede cursus."
        ),
        "days_ago": 9,
    },
    {
        "area_code": "BU01411300",
        "title": "Buurtbarbecue Rumerslanden gaat door",
        "body": (
            "Het plan voor de buurtbarbecue in de Rumerslanden heeft genoeg steun gekregen. "
            "De barbecue is op de laatste zaterdag van juni op het grasveld aan de Bevrijdingslaan.\n\n"
            "Wil je helpen met opbouwen of met de spelletjes voor kinderen? Meld je bij Henk."
        ),
        "days_ago": 5,
    },
    {
        "area_code": "WK014111",
        "title": "Help mee met het Sinterklaasfeest in de Schöppe",
        "body": (
            "Het plan voor een Sinterklaasfeest in De Riet is al bijna half vol. Er is nog steun "
            "nodig om voor elk kind een cadeautje te kopen.\n\n"
            "Ook vrijwilligers zijn welkom: voor het inpakken van cadeautjes en het versieren van "
            "**de Schöppe**."
        ),
        "days_ago": 2,
    },
]
