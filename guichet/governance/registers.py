"""The register of processing activities, generated from the procedure definitions.

Each procedure is one processing activity: its `data_protection` block (policy.py) says
what for, on what legal basis, which data about whom, to whom it goes, through which
processors, to which countries and for how long. The platform adds what is the same for
every procedure: its security measures and its processors as configured on this server.

The register is a page for the data protection officer and a file shaped like the
declaration the national authority expects (CIL in Burkina Faso, APDP in Mali, HAPDP in
Niger), in CSV or ODS, columns in French.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from guichet.accounts.models import User
from guichet.catalog.models import Procedure
from guichet.catalog.texts import pick
from guichet.core import ods
from guichet.core.spreadsheets import safe_text
from guichet.formdefs import references
from guichet.formdefs.definition import sensitive_paths
from guichet.governance import audit
from guichet.governance.policy import Retention, policy_for

# --- Vocabularies (the keys are those of the definition schema) --------------------------------

LEGAL_BASIS_LABELS: dict[str, str | Promise] = {
    "legal_obligation": _("Obligation légale"),
    "public_task": _("Mission de service public (exercice de l'autorité publique)"),
    "consent": _("Consentement de la personne"),
    "contract": _("Exécution d'un contrat"),
    "vital_interest": _("Sauvegarde des intérêts vitaux"),
}
DATA_LABELS: dict[str, str | Promise] = {
    "identity": _("identité (nom, prénoms, date et lieu de naissance)"),
    "filiation": _("filiation (noms des parents)"),
    "contact": _("coordonnées (téléphone, e-mail)"),
    "address": _("adresse et résidence"),
    "national_id": _("numéro d'identification (NINA, CNIB, carte d'identité)"),
    "nationality": _("nationalité"),
    "family": _("situation familiale"),
    "photo": _("photographie"),
    "education": _("scolarité et diplômes"),
    "employment": _("vie professionnelle"),
    "financial": _("situation économique et financière"),
    "tax": _("situation fiscale"),
    "business": _("entreprise et activité"),
    "property": _("terrain et projet de construction"),
    "driving": _("permis de conduire"),
    "death": _("décès (date et lieu)"),
    "documents": _("copies de pièces justificatives"),
}
SENSITIVE_LABELS: dict[str, str | Promise] = {
    "criminal": _("condamnations pénales et infractions"),
    "health": _("santé (certificats médicaux, handicap)"),
    "biometric": _("biométrie (empreintes digitales, visage)"),
}
PEOPLE_LABELS: dict[str, str | Promise] = {
    "applicants": _("demandeurs"),
    "children": _("enfants mineurs"),
    "parents": _("parents"),
    "spouses": _("conjoints"),
    "deceased": _("personnes décédées"),
    "declarants": _("déclarants et mandataires"),
    "witnesses": _("témoins"),
    "associates": _("associés et dirigeants"),
    "candidates": _("candidats"),
    "professionals": _("professionnels cités (architecte, ingénieur)"),
}
PROCESSOR_LABELS: dict[str, str | Promise] = {
    "sms_gateway": _("passerelle SMS et opérateur mobile"),
    "email": _("envoi des e-mails"),
    "storage": _("stockage des pièces jointes"),
    "payment": _("prestataire de paiement"),
    "llm": _("modèle de langue de l'assistant"),
}


@dataclass(frozen=True)
class Supervisor:
    acronym: str
    name: str
    formality: str | Promise
    """What a public body files before processing, as the research found it (to confirm
    with the authority)."""


SUPERVISORS = {
    "BF": Supervisor(
        "CIL", "Commission de l'informatique et des libertés", _("déclaration préalable")
    ),
    "ML": Supervisor(
        "APDP", "Autorité de protection des données à caractère personnel", _("déclaration")
    ),
    "NE": Supervisor(
        "HAPDP",
        "Haute autorité de protection des données à caractère personnel",
        _("demande d'avis (organisme public)"),
    ),
}


def _short(dotted: str) -> str:
    return dotted.rsplit(".", 1)[-1]


_SECURITY_MEASURES: tuple[str | Promise, ...] = (
    _(
        "Données hébergées sur les serveurs de l'administration ; aucun service étranger "
        "par défaut."
    ),
    _("Connexion des citoyens par code SMS à usage unique, limité en durée et en essais."),
    _("Connexion des agents par mot de passe et code d'une application d'authentification."),
    _(
        "Droits par rôle et par service, relus à chaque requête ; même réponse pour un dossier "
        "absent et pour un dossier qui n'est pas le vôtre."
    ),
    _("Journal d'audit de chaque changement et de chaque lecture d'un dossier par un agent."),
    _(
        "Pièces jointes typées par leur contenu (jamais par leur nom) et servies seulement "
        "après contrôle des droits."
    ),
    _("Documents délivrés signés (Ed25519) ; clés privées hors de la base de données."),
    _(
        "Exports des files effacés après 7 jours ; chaque export et chaque registre "
        "téléchargé est journalisé."
    ),
    _("Aucune décision automatisée : chaque décision est prise par un agent nommé."),
)


def security_measures() -> list[str | Promise]:
    """The platform's measures, the same for every procedure, with the antivirus in use."""
    scanner = _short(settings.ATTACHMENT_SCANNER)
    scanning = (
        _("Aucun antivirus branché sur les pièces jointes (développement).")
        if scanner == "AcceptAllScanner"
        else _("Pièces jointes analysées par l'antivirus avant toute ouverture.")
    )
    return [*_SECURITY_MEASURES, scanning]


# --- The platform's processors, as configured -----------------------------------------------------


@dataclass(frozen=True)
class Processor:
    key: str
    label: str | Promise
    receives: str | Promise
    configured: str | Promise
    """What this server uses now, in plain words."""


def platform_processors() -> list[Processor]:
    """Every kind of processor a procedure may declare, and what this server uses for it."""
    sms = {
        "OutboxSmsBackend": _("boîte d'envoi de développement : aucun SMS ne part"),
        "KannelSmsBackend": _("Kannel sur le serveur, vers l'opérateur mobile du pays"),
        "HttpAggregatorSmsBackend": _("agrégateur SMS externe (HTTP) : contrat de sous-traitance"),
    }.get(_short(settings.SMS_BACKEND), settings.SMS_BACKEND)
    email_backend = settings.EMAIL_BACKEND
    email: str | Promise = email_backend
    if email_backend.rsplit(".", 2)[-2] in ("filebased", "locmem", "console", "dummy"):
        email = _("aucun e-mail ne part (fichiers sur le serveur)")
    elif "smtp" in email_backend:
        email = _("serveur de messagerie %(host)s") % {"host": settings.EMAIL_HOST}
    storage = (
        _("disque du serveur")
        if isinstance(storages["attachments"], FileSystemStorage)
        else _("stockage objet compatible S3 : contrat de sous-traitance")
    )
    llm = settings.ASSISTANT_LLM_URL or _("désactivé")
    return [
        Processor(
            "sms_gateway",
            PROCESSOR_LABELS["sms_gateway"],
            _("numéro de mobile, texte de l'avis ou code de connexion"),
            sms,
        ),
        Processor("email", PROCESSOR_LABELS["email"], _("adresse e-mail, texte de l'avis"), email),
        Processor(
            "storage", PROCESSOR_LABELS["storage"], _("fichiers joints aux dossiers"), storage
        ),
        Processor(
            "payment",
            PROCESSOR_LABELS["payment"],
            _("montant, référence du dossier, numéro payeur"),
            _("aucun branché"),
        ),
        Processor(
            "llm",
            PROCESSOR_LABELS["llm"],
            _("question de l'usager et extraits des fiches ; aucune donnée de dossier"),
            llm,
        ),
    ]


# --- Activities --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Activity:
    """One procedure as a processing activity, texts in one language."""

    procedure_id: str
    country: str
    title: str
    controller: str
    service: str
    version: int
    is_online: bool
    purpose: str
    legal_basis: str
    legal_basis_text: str
    data: tuple[str, ...]
    sensitive: tuple[str, ...]
    people: tuple[str, ...]
    recipients: tuple[str, ...]
    processors: tuple[str, ...]
    transfers: tuple[str, ...]
    """Country names; empty: no transfer outside the country."""
    retention: Retention
    sealed: tuple[str, ...] = ()
    """Labels of the form's sensitive fields, whose answers are stored encrypted."""

    @property
    def supervisor(self) -> Supervisor:
        return SUPERVISORS[self.country]

    @property
    def retention_text(self) -> str:
        return retention_text(self.retention)


def _labels(keys: Iterable[str], labels: dict[str, str | Promise]) -> tuple[str, ...]:
    return tuple(str(labels.get(key, key)) for key in keys)


def activities(
    *, authorities: Collection[str] | None = None, language: str | None = None
) -> list[Activity]:
    """The current version of every procedure (of these authorities), by country and title."""
    procedures = Procedure.objects.exclude(current_version=None).select_related("current_version")
    if authorities is not None:
        procedures = procedures.filter(authority_id__in=authorities)
    countries = references.countries()
    out = []
    for procedure in procedures.order_by("country", "title"):
        assert procedure.current_version is not None
        definition = procedure.definition
        policy = policy_for(definition)
        authority = definition["authority"]
        out.append(
            Activity(
                procedure_id=procedure.pk,
                country=procedure.country,
                title=pick(definition["title"], language),
                controller=pick(authority["name"], language),
                service=pick(authority.get("service"), language),
                version=procedure.current_version.number,
                is_online=bool(definition.get("form")),
                purpose=pick(policy.purpose, language),
                legal_basis=str(LEGAL_BASIS_LABELS.get(policy.legal_basis, policy.legal_basis)),
                legal_basis_text=pick(policy.legal_basis_text, language),
                data=_labels(policy.data, DATA_LABELS),
                sensitive=_labels(policy.sensitive, SENSITIVE_LABELS),
                people=_labels(policy.people, PEOPLE_LABELS),
                recipients=tuple(pick(r, language) for r in policy.recipients),
                processors=_labels(policy.processors, PROCESSOR_LABELS),
                transfers=tuple(
                    countries[c].name(language) if c in countries else c for c in policy.transfers
                ),
                retention=policy.retention,
                sealed=_sealed_labels(definition, language),
            )
        )
    return out


def _sealed_labels(definition: dict[str, Any], language: str | None) -> tuple[str, ...]:
    fields = {
        f["id"]: f
        for page in (definition.get("form") or {}).get("pages", ())
        for f in page["fields"]
    }
    labels = []
    for path in sensitive_paths(definition):
        top, _sep, child = path.partition(".")
        field = fields[top]
        if child:
            field = next(c for c in field["fields"] if c["id"] == child)
        labels.append(pick(field["label"], language))
    return tuple(dict.fromkeys(labels))


def duration(days: int) -> str:
    """`10 ans`, `1 an`, `90 jours`."""
    if days % 365 == 0:
        years = days // 365
        return str(_("%(n)d an") if years == 1 else _("%(n)d ans")) % {"n": years}
    return str(_("%(n)d jours")) % {"n": days}


def retention_text(retention: Retention) -> str:
    parts = [
        (_("dossier accepté"), retention.dossier["accepted"]),
        (_("refusé"), retention.dossier["rejected"]),
        (_("classé sans suite"), retention.dossier["closed"]),
        (_("brouillon non déposé"), retention.draft),
        (_("pièces jointes"), retention.attachments),
        (_("messages"), retention.messages),
    ]
    return " ; ".join(f"{label} : {duration(days)}" for label, days in parts)


def default_retention() -> Retention:
    """The platform's durations for a procedure that states none."""
    return policy_for({}).retention


# --- The declaration (CSV, ODS) ----------------------------------------------------------------

HEADER = (
    "Référence du traitement",
    "Pays",
    "Autorité de protection",
    "Formalité",
    "Responsable du traitement",
    "Service qui traite",
    "Traitement (démarche)",
    "Version de la définition",
    "Dépôt en ligne",
    "Finalité",
    "Base légale",
    "Texte de référence",
    "Catégories de données",
    "Données sensibles",
    "Personnes concernées",
    "Destinataires",
    "Sous-traitants",
    "Transferts hors du pays",
    "Durées de conservation",
    "Mesures de sécurité",
    "Décisions automatisées",
)
"""Column titles, in French: the language of the declarations."""
COLUMN_WIDTHS = (22, 12, 10, 18, 30, 30, 40, 8, 8, 50, 24, 50, 50, 30, 30, 40, 30, 16, 50, 80, 40)


def _joined(values: Sequence[str], empty: str | Promise) -> str:
    return " ; ".join(values) if values else str(empty)


def declaration_rows(items: Iterable[Activity]) -> list[tuple[str, ...]]:
    """One row per activity, in French, text made safe for a spreadsheet."""
    with translation.override("fr"):
        security = " ; ".join(str(m) for m in security_measures())
        countries = references.countries()
        no_decision = str(
            _(
                "Aucune : chaque décision est prise par un agent nommé ; les algorithmes "
                "d'aide sont au registre public des algorithmes."
            )
        )
        rows = []
        for a in items:
            row = (
                a.procedure_id,
                countries[a.country].name("fr") if a.country in countries else a.country,
                a.supervisor.acronym,
                str(a.supervisor.formality),
                a.controller,
                a.service,
                a.title,
                str(a.version),
                str(_("oui") if a.is_online else _("non")),
                a.purpose or str(_("non précisée")),
                a.legal_basis,
                a.legal_basis_text or str(_("non précisé")),
                _joined(a.data, _("non précisées")),
                _joined(a.sensitive, _("aucune")),
                _joined(a.people, _("non précisées")),
                _joined(a.recipients, _("non précisés")),
                _joined(a.processors, _("aucun")),
                _joined(a.transfers, _("aucun")),
                retention_text(a.retention),
                security
                + (
                    " ; " + str(_("Réponses chiffrées : %s")) % ", ".join(a.sealed)
                    if a.sealed
                    else ""
                ),
                no_decision,
            )
            rows.append(tuple(safe_text(value) for value in row))
    return rows


def write_csv(out: IO[bytes], rows: Iterable[Sequence[str]]) -> None:
    """UTF-8 with a BOM and `;`, as the queue exports (Excel in French locales)."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
    writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    text.flush()
    text.detach()


def write_ods(out: IO[bytes], rows: Iterable[Sequence[str]]) -> None:
    """One sheet, header in bold, written by odfpy (a few dozen rows: no streaming)."""
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    table = ods.sheet(doc, "Registre des traitements", COLUMN_WIDTHS)

    def add_row(values: Sequence[str], **attributes: str) -> None:
        row = TableRow()
        for value in values:
            cell = TableCell(valuetype="string", **attributes)
            cell.addElement(P(text=value))
            row.addElement(cell)
        table.addElement(row)

    add_row(HEADER, stylename="header")
    for values in rows:
        add_row(values)
    doc.spreadsheet.addElement(table)
    doc.write(out)


WRITERS = {"csv": write_csv, "ods": write_ods}
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
}


def declaration_file(*, format: str, authorities: Collection[str] | None, actor: User) -> bytes:
    """The register of these authorities (None: all) as a file; the download is audited."""
    rows = declaration_rows(activities(authorities=authorities, language="fr"))
    out = io.BytesIO()
    WRITERS[format](out, rows)
    audit.record(
        "processing_register.downloaded",
        obj=None,
        actor=actor,
        data={
            "format": format,
            "procedures": len(rows),
            "authorities": sorted(authorities) if authorities is not None else "all",
        },
    )
    return out.getvalue()
