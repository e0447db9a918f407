"""The USSD menu (dial a short code, answer with the keypad), for phones without internet.

The aggregator calls back once per key press (Africa's Talking convention) with `text`,
the whole path typed since the dial, joined by `*` (`""`, then `"1"`, then
`"1*ML7K3Q9DXC"`), and sends our reply to the phone: `CON …` shows a screen that waits for
an answer, `END …` closes the session. The path is the state: `reply` replays it from the
home screen, so nothing is stored between calls, a dropped session leaves nothing behind,
and `0` (back one screen) and `00` (home) work at any depth by popping or clearing the
replayed stack.

A screen holds at most 182 characters with its prefix, and only GSM-7 characters: one
character outside that alphabet (`û`, `…`, `’`) makes many networks send the screen in
UCS-2, which halves what fits. Texts from the catalog are folded to GSM-7, lists are cut
into pages (`9 Suite`) that fit with room left for the error line, and `_screen` refuses
anything that would not fit, so a layout mistake fails in the tests.

Nothing personal is shown to a number that does not own it: a dossier is found only by its
reference *and* its applicant's number, with the same answer for "unknown" and "not
yours". The texts are French only for now: the layout is measured in characters, and a
translated menu needs its own measuring.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any, TypeAlias

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import translation

from guichet.accounts.models import User
from guichet.catalog.models import Country, Procedure, Theme
from guichet.catalog.queries import published_procedures
from guichet.catalog.texts import pick
from guichet.documents.queries import with_standing_document
from guichet.dossiers import notices
from guichet.dossiers.models import Dossier, DossierStatus
from guichet.dossiers.references import parse_reference
from guichet.formdefs.fields import format_xof
from guichet.notifications import gsm7
from guichet.notifications.services import notify

MAX_SCREEN_CHARS = 182
"""What a USSD screen carries in GSM-7, including the `CON `/`END ` prefix."""

BACK, HOME_KEY, MORE = "0", "00", "9"
MAX_ENTRIES = 100
"""More key presses than anyone makes before the network drops the session (~3 minutes)."""

INVALID_CHOICE = "Choix invalide."
INVALID_REFERENCE = "Référence non valide."
FOOTER = "0 Retour 00 Accueil"
MORE_LABEL = "Suite"
LIST_TITLE_CHARS = 30
"""A procedure title in a list: short enough for three or four to a screen."""
DETAIL_TITLE_CHARS = 45
MIN_DELAY_CHARS = 20
"""A delay cut shorter than this says nothing: better left out."""
MAX_DOSSIERS = 45
"""The newest dossiers a caller can page through (nine screens): older ones are online."""

NO_MATCH = "Aucun dossier à ce numéro avec cette référence."
NO_DOSSIERS = "Aucun dossier pour ce numéro."
SMS_SENT = "Le détail vous est envoyé par SMS."
WITHDRAWN = "Cette démarche n'est plus proposée. Recomposez le code."
TOO_LONG = "Session trop longue. Recomposez le code."

SHORT_STATUS = {
    DossierStatus.SUBMITTED: "Déposé",
    DossierStatus.IN_REVIEW: "En cours",
    DossierStatus.INFO_REQUESTED: "Incomplet",
    DossierStatus.ACCEPTED: "Accepté",
    DossierStatus.REJECTED: "Refusé",
    DossierStatus.CLOSED: "Classé",
}
"""In the list of dossiers, so that five fit on a screen; the full label is one key away."""
FEES = {"free": "gratuit", "varies": "variable", "unknown": "inconnu"}


# --- Text that fits ---------------------------------------------------------------------------

_GSM7_SUBSTITUTES = str.maketrans(
    {
        "’": "'",
        "‘": "'",
        "“": '"',
        "”": '"',
        "«": '"',
        "»": '"',
        "–": "-",
        "—": "-",
        "…": "...",
        "°": "o",
        "œ": "oe",
        "Œ": "OE",
        "\u00a0": " ",
        "\u202f": " ",
    }
)


def to_gsm7(text: str) -> str:
    """`text` in the GSM-7 alphabet: typographic signs replaced, accents the alphabet lacks
    dropped (`ê` → `e`, `ç` → `c`), anything else left out."""
    out = []
    for char in text.translate(_GSM7_SUBSTITUTES):
        if gsm7.is_gsm7(char):
            out.append(char)
        else:
            out.extend(c for c in unicodedata.normalize("NFKD", char) if gsm7.is_gsm7(c))
    return "".join(out)


def shorten(text: str, limit: int) -> str:
    """`text` cut after a whole word to at most `limit` (>= 4) characters, `...` marking
    the cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    room = limit - len("...")
    words = text[: room + 1].split(" ")
    if len(words) > 1:
        words.pop()  # cut through, or the space after the last whole word
    while len(words) > 1 and words[-1].lower() in _DANGLING:
        words.pop()
    return " ".join(words)[:room].rstrip(" ,;:.-/(") + "..."


_DANGLING = frozenset(
    {"à", "au", "aux", "d'", "de", "des", "du", "en", "et", "l'", "la", "le", "les", "ou"}
    | {"par", "pour", "sur", "/", "-", ":"}
)
"""Words a cut title should not end on ("Déclaration de décès et...")."""


_LONG_ASIDE = re.compile(r"\s*\([^)]{7,}\)")


def short_title(title: str, limit: int) -> str:
    """A procedure title for a small screen: long asides in brackets and what follows ` : `
    go (a short one, usually an acronym like `(NIF)`, stays), then the rest is cut."""
    text = _LONG_ASIDE.sub("", to_gsm7(title)).split(" : ")[0]
    return shorten(text, limit)


def _screen(prefix: str, body: str) -> str:
    text = f"{prefix} {body}"
    count = gsm7.septets(text)
    if count is None or count > MAX_SCREEN_CHARS:
        raise ValueError(f"USSD screen over {MAX_SCREEN_CHARS} GSM-7 characters: {text!r}")
    return text


# --- Screens ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Screen:
    """Where the caller is: a name from SCREENS, its arguments, the page of a long list."""

    name: str
    args: tuple[str, ...] = ()
    page: int = 0


@dataclass(frozen=True)
class End:
    """The last screen of a session, and what to do when the caller reaches it."""

    text: str
    action: Callable[[], None] | None = None


Target: TypeAlias = Screen | End
Choice: TypeAlias = tuple[str, Target]


@dataclass
class Menu:
    """What a screen shows: heading lines, then numbered choices (cut into pages), or a
    question answered in free text (`ask` returns None for an answer it cannot use)."""

    lines: Sequence[str]
    choices: Sequence[Choice] = ()
    ask: Callable[[str], Target | None] | None = None
    error: str = INVALID_CHOICE
    per_page: int = 8
    footer: bool = True

    @cached_property
    def pages(self) -> list[Sequence[Choice]]:
        """As full as fits (the error line counted), at most `per_page` choices each. The
        same at every replay, since a choice's number depends on them."""
        pages: list[Sequence[Choice]] = []
        rest = list(self.choices)
        while rest:
            size = 1
            while size < min(len(rest), self.per_page) and _fits(
                self.compose(rest[: size + 1], has_more=size + 1 < len(rest), error=True)
            ):
                size += 1
            pages.append(rest[:size])
            rest = rest[size:]
        return pages or [[]]

    def show(self, page: int, *, error: bool = False) -> str:
        return self.compose(self.pages[page], has_more=page + 1 < len(self.pages), error=error)

    def compose(self, choices: Sequence[Choice], *, has_more: bool, error: bool) -> str:
        lines = [self.error] if error else []
        lines += self.lines
        lines += [f"{number} {label}" for number, (label, _) in enumerate(choices, 1)]
        if has_more:
            lines.append(f"{MORE} {MORE_LABEL}")
        if self.footer:
            lines.append(FOOTER)
        return "\n".join(lines)

    def choose(self, screen: Screen, entry: str) -> Target | None:
        choices = self.pages[screen.page]
        if entry == MORE and screen.page + 1 < len(self.pages):
            return Screen(screen.name, screen.args, screen.page + 1)
        # A keypad entry of thousands of digits is no choice (and int() refuses over 4,300).
        is_number = entry.isascii() and entry.isdigit() and len(entry) <= 3
        if is_number and 1 <= int(entry) <= len(choices):
            return choices[int(entry) - 1][1]
        return self.ask(entry) if self.ask is not None else None


def _room(body: str) -> int:
    """Characters left on a screen showing `body` (negative: it does not fit)."""
    septets = gsm7.septets(f"CON {body}")
    return -1 if septets is None else MAX_SCREEN_CHARS - septets


def _fits(body: str) -> bool:
    return _room(body) >= 0


class Session:
    """One call back: the caller and the screens already built while replaying the path."""

    def __init__(self, phone: str) -> None:
        self.phone = phone
        self._menus: dict[Screen, Menu | End] = {}

    @cached_property
    def user(self) -> User | None:
        return User.objects.filter(phone=self.phone).first() if self.phone else None

    def open(self, screen: Screen) -> Menu | End:
        if screen not in self._menus:
            self._menus[screen] = SCREENS[screen.name](self, *screen.args)
        return self._menus[screen]

    def dossiers(self, reference: str | None = None) -> list[Dossier]:
        """The caller's dossiers (drafts are nobody's business yet), newest first."""
        if not self.phone:
            return []
        queryset = (
            Dossier.objects.filter(applicant__phone=self.phone)
            .exclude(status=DossierStatus.DRAFT)
            .order_by("-submitted_at", "-pk")
        )
        if reference is not None:
            queryset = queryset.filter(reference=reference)
        return list(queryset[:MAX_DOSSIERS])


def _home(session: Session) -> Menu:
    return Menu(
        lines=["Guichet"],
        choices=[
            ("Suivre un dossier", Screen("track")),
            ("Mes dossiers", Screen("mine")),
            ("Pièces et frais d'une démarche", Screen("countries")),
        ],
        footer=False,
    )


def _track(session: Session) -> Menu:
    def answer(entry: str) -> Target | None:
        reference = parse_reference(entry)
        if reference is None:
            return None
        found = session.dossiers(reference)
        return End(_status_texts(found)[0]) if found else End(NO_MATCH)

    return Menu(
        lines=["Entrez la référence du dossier (ex. ML7K3Q9DXC)"],
        ask=answer,
        error=INVALID_REFERENCE,
    )


def _mine(session: Session) -> Menu | End:
    dossiers = session.dossiers()
    if not dossiers:
        return End(NO_DOSSIERS)
    return Menu(
        lines=["Mes dossiers"],
        choices=[
            (f"{d.reference} {SHORT_STATUS[DossierStatus(d.status)]}", End(text))
            for d, text in zip(dossiers, _status_texts(dossiers), strict=True)
        ],
        per_page=5,
    )


def _status_texts(dossiers: Sequence[Dossier]) -> list[str]:
    accepted = [d.pk for d in dossiers if d.status == DossierStatus.ACCEPTED]
    standing = with_standing_document(accepted)
    return [notices.state_text(d, has_document=d.pk in standing) for d in dossiers]


def _countries(session: Session) -> Menu:
    return Menu(
        lines=["Pays de la démarche"],
        choices=[(str(c.label), Screen("themes", (c.value,))) for c in Country],
    )


def _themes(session: Session, country: str) -> Menu:
    used = set(published_procedures().filter(country=country).values_list("theme", flat=True))
    return Menu(
        lines=[f"Thème ({Country(country).label})"],
        choices=[
            (to_gsm7(str(t.label)), Screen("procedures", (country, t.value)))
            for t in Theme
            if t.value in used
        ],
    )


def _procedures(session: Session, country: str, theme: str) -> Menu:
    procedures = published_procedures().filter(country=country, theme=theme).order_by("title")
    return Menu(
        lines=[to_gsm7(f"{Theme(theme).label} ({Country(country).label})")],
        choices=[
            (
                short_title(pick(p.definition["title"], "fr"), LIST_TITLE_CHARS),
                Screen("procedure", (p.pk,)),
            )
            for p in procedures
        ],
    )


def _procedure(session: Session, procedure_id: str) -> Menu | End:
    procedure = published_procedures().filter(pk=procedure_id).first()
    if procedure is None:  # unpublished during the session
        return End(WITHDRAWN)
    definition = procedure.definition
    lines = [
        short_title(pick(definition["title"], "fr"), DETAIL_TITLE_CHARS),
        documents_text(definition),
        f"Frais : {fees_text(definition)}",
    ]
    choices: list[tuple[str, Target]] = []
    if session.phone:
        send = partial(_send_details, procedure=procedure, session=session)
        choices.append(("Recevoir le détail par SMS", End(SMS_SENT, send)))
    delay = delay_text(definition)
    if delay:
        # The delay gets what the rest leaves (the error line counted).
        probe = Menu(lines=[*lines, "Délai : "], choices=choices)
        room = _room(probe.compose(choices, has_more=False, error=True))
        if room >= MIN_DELAY_CHARS:
            lines.append("Délai : " + shorten(delay, room))
    return Menu(lines=lines, choices=choices)


def documents_text(definition: dict[str, Any]) -> str:
    count = len(definition.get("documents") or [])
    return f"Pièces à fournir : {count}" if count else "Aucune pièce à fournir"


def fees_text(definition: dict[str, Any]) -> str:
    fees = definition.get("fees") or {}
    if fees.get("kind") == "fixed" and isinstance(fees.get("amount_xof"), int):
        return to_gsm7(format_xof(fees["amount_xof"]))  # no-break spaces become spaces
    return FEES.get(str(fees.get("kind")), FEES["unknown"])


def delay_text(definition: dict[str, Any]) -> str:
    delay = definition.get("delay") or {}
    days = delay.get("legal_days")
    if isinstance(days, int):
        return f"{days} jour" + ("s" if days > 1 else "")
    return to_gsm7(pick(delay.get("text"), "fr"))


SCREENS: dict[str, Callable[..., Menu | End]] = {
    "home": _home,
    "track": _track,
    "mine": _mine,
    "countries": _countries,
    "themes": _themes,
    "procedures": _procedures,
    "procedure": _procedure,
}
HOME = Screen("home")


# --- The SMS that stays ------------------------------------------------------------------------


def procedure_sms(procedure: Procedure) -> str:
    """One GSM-7 SMS: title, fees, number of documents and the public page. The title is
    shortened until the whole fits."""
    definition = procedure.definition
    with translation.override("fr"):
        path = reverse("public:procedure", kwargs={"procedure_id": procedure.pk})
    address = settings.GUICHET_PUBLIC_URL.rstrip("/") + path
    rest = f" Frais : {fees_text(definition)}. {documents_text(definition)}. Détail : "
    title = pick(definition["title"], "fr")
    for link in (to_gsm7(address), path):
        for limit in range(len(title), 9, -1):
            short = short_title(title, limit) if limit < len(title) else to_gsm7(title)
            end = "" if short.endswith("...") else "."
            text = f"Guichet : {short}{end}{rest}{link}"
            if gsm7.fits_one_sms(text):
                return text
    raise ValueError(f"no SMS fits for {procedure.pk}")  # ids are at most 80 characters


def _send_details(*, procedure: Procedure, session: Session) -> None:
    with transaction.atomic():
        notify(
            user=session.user,
            to=session.phone,
            event="ussd.procedure",
            object_ref=procedure.pk[:40],
            text=procedure_sms(procedure),
        )


# --- The call back --------------------------------------------------------------------------


_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def caller_number(raw: str) -> str:
    """E.164 (as `User.phone` holds it), or "" when the aggregator sent something else.
    Aggregators send `+22370123456`, `22370123456` or `0022370123456`, never a national
    number: no country is guessed."""
    number = re.sub(r"[\s.\-]", "", raw)
    if number.startswith("00"):
        number = number[2:]
    if number.isdigit():
        number = "+" + number
    return number if _E164.fullmatch(number) else ""


def reply(*, session_id: str, phone_number: str, text: str) -> str:
    """The screen for the path `text` typed by `phone_number` since the dial. `session_id`
    is not needed: the path is the whole state."""
    entries = [entry.strip() for entry in text.split("*")] if text else []
    if len(entries) > MAX_ENTRIES:
        return _screen("END", TOO_LONG)
    session = Session(caller_number(phone_number))
    stack = [HOME]
    error = False
    for position, entry in enumerate(entries):
        error = False
        if entry == HOME_KEY:
            stack = [HOME]
            continue
        if entry == BACK:
            if len(stack) > 1:
                stack.pop()
            continue
        menu = session.open(stack[-1])
        assert isinstance(menu, Menu)  # an End never stays on the stack
        target = menu.choose(stack[-1], entry)
        if isinstance(target, Screen):
            opened = session.open(target)
            target = opened if isinstance(opened, End) else target
        if target is None:
            error = True
        elif isinstance(target, End):
            # Only the press that reaches the end acts: a gateway that sends more after
            # an END gets the same END, without a second SMS.
            if target.action is not None and position == len(entries) - 1:
                target.action()
            return _screen("END", target.text)
        else:
            stack.append(target)
    menu = session.open(stack[-1])
    assert isinstance(menu, Menu)
    return _screen("CON", menu.show(stack[-1].page, error=error))
