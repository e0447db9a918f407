"""Issue, cancel and verify documents; make, rotate and revoke signing keys.

A decision issues its document inside the decision's transaction
(workflow.services.transition): either the dossier is accepted and its signed document
exists, or neither. Every issuance, download, cancellation, key change and verification
is audited; a verification's entry holds its outcome and the document number, nothing
personal.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from guichet.accounts.models import User
from guichet.catalog.models import Country
from guichet.documents import codes, render
from guichet.documents.codes import Claims, DocumentKind
from guichet.documents.keys import MissingKeyError, key_store
from guichet.documents.models import IssuedDocument, SigningKey
from guichet.documents.verify import KeySet, PublicKey, Verdict
from guichet.dossiers.models import Dossier
from guichet.dossiers.services import DossierError, form_spec
from guichet.formdefs.fields import answer_display
from guichet.governance import audit
from guichet.organisation.models import Authority
from guichet.organisation.queries import staff_rights

MAX_REVOKE_REASON = 2000
PRINTED_COUNTRY: dict[str, str] = {
    Country.MALI: "République du Mali",
    Country.BURKINA_FASO: "Burkina Faso",
    Country.NIGER: "République du Niger",
}
"""Documents are printed in French, the administrations' language, whatever the agent's."""
KIND_KEYS = {DocumentKind.ACCEPTANCE: "acceptance", DocumentKind.REFUSAL: "refusal"}


class DocumentError(DossierError):
    """A document that cannot be issued or cancelled; `message` is plain French."""


def template_for(dossier: Dossier, kind: str) -> dict[str, Any] | None:
    documents = dossier.version.definition.get("issued_documents") or {}
    template: dict[str, Any] | None = documents.get(KIND_KEYS[kind])
    return template


def _answer(dossier: Dossier, field_id: str) -> str:
    spec = next(
        (f for page in form_spec(dossier).pages for f in page.fields if f.id == field_id), None
    )
    value = dossier.answers.get(field_id)
    if spec is None or value in (None, "", []):
        return ""
    return answer_display(spec, value, "fr")


def person_name(user: User) -> str:
    return user.get_full_name().strip() or user.get_username()


def active_key(authority: Authority) -> SigningKey:
    key = SigningKey.objects.filter(authority=authority, status=SigningKey.Status.ACTIVE).first()
    if key is None:
        raise DocumentError(
            _(
                "Aucune clé de signature en service pour « %(authority)s » : le document ne "
                "peut pas être délivré. Un administrateur doit d'abord créer la clé."
            )
            % {"authority": authority.name}
        )
    return key


def reason_fingerprint(reason: str) -> str:
    return codes.b64url(hashlib.sha256(codes.clean(reason).encode()).digest()[:6]).upper()


def issue(*, dossier: Dossier, kind: str, actor: User, reason: str = "") -> IssuedDocument | None:
    """Sign and store the document the procedure issues on this decision, if it has one.
    Call inside the decision's transaction."""
    template = template_for(dossier, kind)
    if template is None:
        return None
    assert dossier.service is not None  # submitted dossiers are routed
    authority = dossier.service.authority
    key = active_key(authority)
    try:
        sign = key_store().signer(key.kid)
    except MissingKeyError as exc:
        raise DocumentError(
            _(
                "La clé de signature %(kid)s est introuvable sur le serveur : prévenez "
                "l'administrateur. Rien n'a été changé."
            )
            % {"kid": key.kid}
        ) from exc
    now = timezone.now()
    number = f"{dossier.reference}-{dossier.documents.count() + 1}"
    holder_fields = template.get("holder") or []
    holder = " ".join(filter(None, (_answer(dossier, f) for f in holder_fields)))
    fields = [
        (item["label"], _answer(dossier, item["field"]) or "—")
        for item in template.get("fields", [])
    ]
    if kind == DocumentKind.REFUSAL:
        fields.append(("Empreinte du motif", reason_fingerprint(reason)))
    claims = Claims(
        kid=key.kid,
        number=number,
        kind=kind,
        issued_on=f"{now:%d/%m/%Y}",
        title=codes.clean(template["title"]),
        holder=codes.clean(holder or dossier.applicant_name),
        issuer=codes.clean(dossier.service.name),
        signer=codes.clean(person_name(actor)),
        fields=tuple((codes.clean(label), codes.clean(value)) for label, value in fields),
    )
    code = codes.make_code(claims, sign)
    pdf = render.render(
        render.Page(
            claims=claims,
            qr_text=codes.code_url(settings.GUICHET_PUBLIC_URL, code),
            country=PRINTED_COUNTRY[authority.country],
            authority=authority.name,
            text=template.get("text", ""),
            reason=reason if kind == DocumentKind.REFUSAL else "",
            verify_address=f"{settings.GUICHET_PUBLIC_URL.rstrip('/')}/verifier/",
            site_name=settings.GUICHET_SITE_NAME,
        )
    )
    sealed = codes.seal_pdf(pdf, code, key.kid, sign)
    document = IssuedDocument(
        number=number,
        dossier=dossier,
        kind=kind,
        title=claims.title,
        key=key,
        code=code,
        sha256=hashlib.sha256(sealed).hexdigest(),
        size=len(sealed),
        issued_at=now,
        issued_by=actor,
    )
    document.file.save(f"{number}.pdf", ContentFile(sealed), save=False)
    document.save()
    audit.record(
        "document.issued",
        obj=document,
        actor=actor,
        data={"number": number, "kid": key.kid, "sha256": document.sha256},
    )
    return document


@transaction.atomic
def revoke(*, document: IssuedDocument, actor: User, reason: str) -> IssuedDocument:
    """Cancel a document (a supervisor of the dossier's service); verifiers then see it as
    cancelled. Done once: a second cancellation changes nothing."""
    document = IssuedDocument.objects.select_for_update().get(pk=document.pk)
    if not staff_rights(actor).can_supervise(document.dossier.service_id):
        raise DocumentError(_("Seul un superviseur du service peut annuler un document."))
    reason = reason.strip()
    if not reason:
        raise DocumentError(_("Écrivez la raison de l'annulation."))
    if len(reason) > MAX_REVOKE_REASON:
        raise DocumentError(
            _("Raison trop longue : %(n)d caractères au plus.") % {"n": MAX_REVOKE_REASON}
        )
    if document.is_revoked:
        return document
    _cancel(document, actor, reason)
    return document


def _cancel(document: IssuedDocument, actor: User, reason: str) -> None:
    document.revoked_at = timezone.now()
    document.revoked_by = actor
    document.revoked_reason = reason
    document.save(update_fields=["revoked_at", "revoked_by", "revoked_reason"])
    audit.record("document.revoked", obj=document, actor=actor, data={"number": document.number})


def revoke_all(*, dossier: Dossier, actor: User, reason: str) -> None:
    """A decision is reopened: the documents it issued stop standing."""
    for document in dossier.documents.filter(revoked_at__isnull=True):
        _cancel(document, actor, reason)


def record_download(
    document: IssuedDocument, actor: User, *, by_staff: bool, ip: str = "", purpose: str = ""
) -> None:
    """Each opening of an issued document: by its holder, or by staff (to print it; with
    the purpose when they read outside their queue)."""
    action = "document.printed" if by_staff else "document.downloaded"
    audit.record(
        action,
        obj=document,
        actor=actor,
        data={"number": document.number},
        ip=ip,
        purpose=purpose,
    )


# --- Keys ---------------------------------------------------------------------------------------


@transaction.atomic
def create_key(*, authority: Authority, actor: User | str) -> SigningKey:
    """A new key pair for `authority`; the key in service, if any, is retired (it still
    verifies what it signed). The private half goes to the key store, never here."""
    current = (
        SigningKey.objects.select_for_update()
        .filter(authority=authority, status=SigningKey.Status.ACTIVE)
        .first()
    )
    if current is not None:
        current.status = SigningKey.Status.RETIRED
        current.retired_at = timezone.now()
        current.save(update_fields=["status", "retired_at"])
        audit.record("signing_key.retired", obj=current, actor=actor, data={"kid": current.kid})
    kid, public = key_store().create()
    key = SigningKey.objects.create(kid=kid, authority=authority, public_key=codes.b64url(public))
    audit.record("signing_key.created", obj=key, actor=actor, data={"kid": kid})
    return key


def ensure_keys(*, actor: User | str) -> int:
    """A key for every authority that has none in service (demo data, a new deployment)."""
    made = 0
    for authority in Authority.objects.exclude(
        signing_keys__status=SigningKey.Status.ACTIVE
    ).order_by("pk"):
        create_key(authority=authority, actor=actor)
        made += 1
    return made


@transaction.atomic
def revoke_key(*, key: SigningKey, actor: User | str, reason: str) -> SigningKey:
    """Withdraw a key (lost or stolen): every document it signed shows as "key revoked"."""
    if not reason.strip():
        raise DocumentError(_("Écrivez la raison de la révocation."))
    key = SigningKey.objects.select_for_update().get(pk=key.pk)
    if key.status == SigningKey.Status.REVOKED:
        return key
    key.status = SigningKey.Status.REVOKED
    key.revoked_at = timezone.now()
    key.revoked_reason = reason.strip()[:500]
    key.save(update_fields=["status", "revoked_at", "revoked_reason"])
    audit.record("signing_key.revoked", obj=key, actor=actor, data={"kid": key.kid})
    return key


def published_keyset() -> KeySet:
    """Every key (in service, retired, revoked) and every cancelled document's number:
    what a verifier needs, nothing personal."""
    keys = {
        k.kid: PublicKey(
            kid=k.kid,
            public_key=codes.unb64url(k.public_key),
            authority_id=k.authority_id,
            authority_name=k.authority.name,
            country=k.authority.country,
            status=k.status,
            created_at=f"{k.created_at:%Y-%m-%d}",
            revoked_at=f"{k.revoked_at:%Y-%m-%d}" if k.revoked_at else None,
        )
        for k in SigningKey.objects.select_related("authority").order_by("created_at", "kid")
    }
    # Documents cancelled before their dossier was purged have no row any more, but their
    # papers are still out there: they must go on verifying as cancelled. (Imported here:
    # retention sits above documents.)
    from guichet.retention.queries import purged_cancellations

    revoked = purged_cancellations()
    revoked.update(
        (number, f"{at:%Y-%m-%d}")
        for number, at in IssuedDocument.objects.filter(revoked_at__isnull=False)
        .order_by("number")
        .values_list("number", "revoked_at")
    )
    revoked = dict(sorted(revoked.items()))
    return KeySet(
        keys=keys,
        revoked_documents=revoked,
        published_at=timezone.now().isoformat(timespec="seconds"),
        publisher=settings.GUICHET_PUBLIC_URL,
    )


def record_verification(verdict: Verdict, *, via: str) -> None:
    """Audit a verification: the outcome and the document's number, no personal data."""
    number = verdict.claims.number if verdict.claims else None
    document = IssuedDocument.objects.filter(number=number).first() if number else None
    audit.record(
        "document.verified",
        obj=document,
        actor=None,
        data={"outcome": verdict.outcome.value, "via": via, "number": number},
    )
