"""The citizen fills a procedure's form, page by page, attaches files and submits.

Every page works without JavaScript. Each page is stored when sent, so a dropped
connection costs at most the page being typed; each file goes up in its own request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.core.validators import slug_re
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from guichet.accounts.phones import mask
from guichet.catalog import queries as catalog_queries
from guichet.catalog.models import Country
from guichet.catalog.texts import pick
from guichet.documents import services as document_services
from guichet.dossiers import limits, queries, services
from guichet.dossiers.models import MESSAGE_FIELD, Attachment, Dossier
from guichet.dossiers.receipts import ReceiptData, render_receipt
from guichet.formdefs.fields import AttachmentsField
from guichet.formdefs.forms import FieldBlock, GroupBlock, PageForm, TextBlock
from guichet.formdefs.spec import FormSpec, PageNotAvailable
from guichet.governance import algorithms
from guichet.privacy import queries as privacy_queries
from guichet.privacy import services as privacy
from guichet.web.access import citizen_page, signed_in_user
from guichet.web.files import serve_attachment, serve_document
from guichet.web.limited import limited
from guichet.workflow import services as workflow

ADD_ITEM = "add"


def _language() -> str:
    return (get_language() or "fr").split("-")[0]


def _page_url(dossier: Dossier, page_id: str) -> str:
    return reverse("dossiers:page", args=[dossier.reference, page_id])


def _can_edit_page(dossier: Dossier, spec: FormSpec, page_id: str) -> bool:
    allowed = services.editable_fields(dossier)
    if allowed is None:
        return True
    try:
        return bool(allowed & services.page_fields(spec, page_id))
    except PageNotAvailable:
        return False


def _resume_url(dossier: Dossier) -> str:
    if not dossier.is_draft:
        return reverse("dossiers:detail", args=[dossier.reference])
    if dossier.current_page:
        return _page_url(dossier, dossier.current_page)
    return reverse("dossiers:summary", args=[dossier.reference])


# --- Start and list -------------------------------------------------------------------------------


@citizen_page
@limited(
    account=limits.STARTS_PER_ACCOUNT,
    address=limits.STARTS_PER_ADDRESS,
    message=gettext_lazy("Trop de démarches commencées en peu de temps. Réessayez dans %(wait)s."),
)
def start(request: HttpRequest, procedure_id: str) -> HttpResponseBase:
    procedure = catalog_queries.get_procedure(procedure_id)
    definition = procedure.definition
    if request.method == "POST":
        try:
            dossier = services.start_dossier(procedure=procedure, actor=signed_in_user(request))
        except services.DossierError as exc:
            messages.error(request, exc.message)
            return redirect("dossiers:start", procedure_id)
        return redirect(_resume_url(dossier))
    return render(
        request,
        "dossiers/start.html",
        {"procedure": procedure, "d": definition, "has_form": bool(definition.get("form"))},
    )


@citizen_page
def my_dossiers(request: HttpRequest) -> HttpResponse:
    drafts, submitted = queries.drafts_and_submitted(signed_in_user(request))
    return render(
        request,
        "dossiers/list.html",
        {"drafts": [(d, _resume_url(d)) for d in drafts], "submitted": submitted},
    )


@citizen_page
def detail(request: HttpRequest, reference: str) -> HttpResponse:
    dossier = queries.get_dossier_for(signed_in_user(request), reference)
    if dossier.is_draft:
        return redirect(_resume_url(dossier))
    return _render_detail(request, dossier)


def _render_detail(
    request: HttpRequest, dossier: Dossier, *, error: str = "", body: str = "", status: int = 200
) -> HttpResponse:
    info_request = services.open_information_request(dossier)
    to_complete: list[tuple[str, str]] = []
    if info_request:
        spec = services.form_spec(dossier)
        for field_id in info_request.fields:
            field_spec = spec.field(field_id)
            to_complete.append(
                (pick(field_spec.label, _language()), _page_url(dossier, field_spec.page_id))
            )
    return render(
        request,
        "dossiers/detail.html",
        {
            "dossier": dossier,
            "d": dossier.version.definition,
            "files": dossier.attachments.exclude(field_id=MESSAGE_FIELD),
            "documents": dossier.documents.all(),
            "thread": dossier.messages.select_related("attachment"),
            "message_error": error,
            "message_body": body,
            "max_message_length": services.MAX_MESSAGE_LENGTH,
            "message_accept": services.MESSAGE_FILE_RULES.accept_attribute,
            "info_request": info_request,
            "to_complete": to_complete,
            "timeline": dossier.changes.all(),
            "used_algorithms": algorithms.used_for(dossier),
            "privacy": privacy_queries.dossier_privacy(dossier),
        },
        status=status,
    )


@citizen_page
@require_POST
@limited(
    account=limits.MESSAGES_PER_ACCOUNT,
    address=limits.MESSAGES_PER_ADDRESS,
    message=gettext_lazy("Trop de messages en peu de temps. Réessayez dans %(wait)s."),
)
def post_message(request: HttpRequest, reference: str) -> HttpResponseBase:
    dossier = queries.get_dossier_for(signed_in_user(request), reference)
    body = request.POST.get("body", "")
    try:
        services.post_message(
            dossier=dossier,
            body=body,
            upload=request.FILES.get("file"),
            actor=signed_in_user(request),
        )
    except services.DossierError as exc:
        if dossier.is_draft:
            messages.error(request, exc.message)
            return redirect(_resume_url(dossier))
        return _render_detail(request, dossier, error=exc.message, body=body, status=400)
    messages.success(request, _("Message envoyé à l'administration."))
    return redirect(reverse("dossiers:detail", args=[dossier.reference]) + "#messages")


# --- One page of the form ------------------------------------------------------------


@dataclass
class FileSection:
    """A file field of the page, rendered as its own upload form."""

    name: str
    label: str
    help: str
    accept: str
    limits: str
    files: list[Attachment]
    can_add: bool
    errors: list[str] = field(default_factory=list)
    condition_hint: str = ""


def _is_file(block: FieldBlock | TextBlock | GroupBlock) -> bool:
    return isinstance(block, FieldBlock) and block.spec.type == "file"


def _file_sections(
    file_blocks: list[FieldBlock], dossier: Dossier, errors: dict[str, str]
) -> list[FileSection]:
    by_field: dict[str, list[Attachment]] = {}
    for attachment in dossier.attachments.all():
        by_field.setdefault(attachment.field_id, []).append(attachment)
    sections = []
    for block in file_blocks:
        rules = block.spec.file_rules
        files = by_field.get(block.field.name, [])
        kinds = ", ".join(k.upper() for k in rules.accept)
        sections.append(
            FileSection(
                name=block.field.name,
                label=str(block.field.label),
                help=str(block.field.help_text or ""),
                accept=rules.accept_attribute,
                limits=ngettext(
                    "%(kinds)s, %(size)s Mo au plus, %(n)d fichier au plus",
                    "%(kinds)s, %(size)s Mo au plus, %(n)d fichiers au plus",
                    rules.max_files,
                )
                % {"kinds": kinds, "size": f"{rules.max_size_mb:g}", "n": rules.max_files},
                files=files,
                can_add=len(files) < rules.max_files,
                errors=[str(e) for e in block.field.errors]
                + ([errors[block.field.name]] if block.field.name in errors else []),
            )
        )
    return sections


def _render_page(
    request: HttpRequest,
    dossier: Dossier,
    spec: FormSpec,
    form: PageForm,
    *,
    upload_errors: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    visible = spec.visible_pages(dossier.answers)
    number = next((i for i, p in enumerate(visible, 1) if p.id == form.page.id), len(visible))
    previous = spec.previous_page(form.page.id, dossier.answers)
    layout = form.layout()
    file_blocks = [b for b in layout if isinstance(b, FieldBlock) and _is_file(b)]
    return render(
        request,
        "dossiers/page.html",
        {
            "dossier": dossier,
            "form": form,
            "blocks": [_block_view(b) for b in layout if not _is_file(b)],
            "file_sections": _file_sections(file_blocks, dossier, upload_errors or {}),
            "number": number,
            "total": len(visible),
            "previous_url": _page_url(dossier, previous.id) if previous else "",
            "title": pick(dossier.version.definition["title"]),
        },
        status=status,
    )


def _block_view(block: FieldBlock | TextBlock | GroupBlock) -> dict[str, Any]:
    """Blocks tagged for the template, which cannot ask an object for its class."""
    if isinstance(block, TextBlock):
        return {"kind": "text", "block": block}
    if isinstance(block, GroupBlock):
        return {
            "kind": "group",
            "block": block,
            "items": [
                {"item": item, "blocks": [_block_view(b) for b in item.blocks]}
                for item in block.items
            ],
        }
    return {"kind": "field", "block": block}


def _with_files(data: Any, dossier: Dossier, form: PageForm) -> Any:
    """The POST data with each file field set to the dossier's files, never the browser's."""
    data = data.copy()
    ids = services.attachment_ids_by_field(dossier)
    for name, form_field in form.fields.items():
        if isinstance(form_field, AttachmentsField):
            data.setlist(name, ids.get(name, []))
    return data


@citizen_page
def page(request: HttpRequest, reference: str, page_id: str) -> HttpResponse:
    dossier = queries.get_dossier_for(signed_in_user(request), reference)
    spec = services.form_spec(dossier)
    if not _can_edit_page(dossier, spec, page_id):
        return redirect(_resume_url(dossier))
    attachments = services.attachment_kinds(dossier)
    try:
        form = spec.build_form(
            page_id, dossier.answers, language=_language(), attachments=attachments
        )
    except PageNotAvailable:
        return redirect(_resume_url(dossier))
    if request.method != "POST":
        return _render_page(request, dossier, spec, form)
    form = spec.build_form(
        page_id,
        dossier.answers,
        data=_with_files(request.POST, dossier, form),
        language=_language(),
        attachments=attachments,
    )
    if not form.is_valid():
        return _render_page(request, dossier, spec, form, status=400)
    following = services.save_page(
        dossier=dossier, page_id=page_id, page_answers=form.answers, actor=signed_in_user(request)
    )
    if request.POST.get("action") == ADD_ITEM:
        return redirect(_page_url(dossier, page_id))
    if not dossier.is_draft:  # a correction asked by the administration
        return redirect(reverse("dossiers:detail", args=[dossier.reference]) + "#complement")
    if following is None:
        return redirect("dossiers:summary", dossier.reference)
    return redirect(_page_url(dossier, following))


# --- Files ----------------------------------------------------------------------------------------


@citizen_page
@require_POST
@limited(
    account=limits.UPLOADS_PER_ACCOUNT,
    address=limits.UPLOADS_PER_ADDRESS,
    message=gettext_lazy("Trop de fichiers envoyés en peu de temps. Réessayez dans %(wait)s."),
)
def upload(request: HttpRequest, reference: str, page_id: str, field_name: str) -> HttpResponseBase:
    dossier = queries.get_dossier_for(signed_in_user(request), reference)
    spec = services.form_spec(dossier)
    upload_file = request.FILES.get("file")
    error = ""
    if upload_file is None:
        error = _("Choisissez un fichier avant d'envoyer.")
    else:
        try:
            services.add_attachment(
                dossier=dossier,
                field_name=field_name,
                upload=upload_file,
                actor=signed_in_user(request),
            )
        except services.DossierError as exc:
            error = exc.message
    if not error:
        return redirect(_page_url(dossier, page_id) + f"#{field_name}")
    try:
        form = spec.build_form(
            page_id,
            dossier.answers,
            language=_language(),
            attachments=services.attachment_kinds(dossier),
        )
    except PageNotAvailable:
        return redirect(_resume_url(dossier))
    return _render_page(request, dossier, spec, form, upload_errors={field_name: error}, status=400)


@citizen_page
@require_POST
def remove_file(request: HttpRequest, reference: str, attachment_id: str) -> HttpResponse:
    dossier = queries.get_dossier_for(signed_in_user(request), reference)
    attachment = queries.get_attachment_for(signed_in_user(request), dossier, attachment_id)
    field_name = attachment.field_id
    try:
        services.remove_attachment(attachment=attachment, actor=signed_in_user(request))
    except services.DossierError as exc:
        messages.error(request, exc.message)
    back = request.POST.get("page", "")
    if slug_re.match(back) and dossier.is_draft:  # a page id: anything else cannot reverse
        return redirect(_page_url(dossier, back) + f"#{field_name}")
    return redirect(_resume_url(dossier))


@citizen_page
def download(request: HttpRequest, reference: str, attachment_id: str) -> HttpResponseBase:
    dossier = queries.get_dossier_for(signed_in_user(request), reference)
    attachment = queries.get_attachment_for(signed_in_user(request), dossier, attachment_id)
    return serve_attachment(request, attachment, inline=False)


# --- Summary, submission, receipt --------------------------------------------------


@citizen_page
def summary(request: HttpRequest, reference: str) -> HttpResponse:
    dossier = queries.get_dossier_for(signed_in_user(request), reference)
    if not dossier.is_draft:
        return redirect(_resume_url(dossier))
    return _render_summary(request, dossier)


def _render_summary(
    request: HttpRequest,
    dossier: Dossier,
    *,
    errors: Any = None,
    notice_error: str = "",
    status: int = 200,
) -> HttpResponse:
    spec = services.form_spec(dossier)
    notice = privacy.current_notice(dossier)
    language = _language()
    found = errors.errors if errors else []
    files: dict[str, list[str]] = {}
    for attachment in dossier.attachments.all():
        files.setdefault(attachment.field_id, []).append(attachment.original_name)

    def shown(row: Any) -> str:
        # A file answer is a list of ids: the citizen recognises the file names instead.
        if spec.field(row.field_id).type == "file" and row.field_id in files:
            return ", ".join(files[row.field_id])
        return str(row.value)

    sections = [
        {
            "section": section,
            "url": _page_url(dossier, section.page_id),
            "rows": [(row.label, shown(row)) for row in section.rows],
        }
        for section in spec.summary(dossier.answers, language)
    ]
    return render(
        request,
        "dossiers/summary.html",
        {
            "dossier": dossier,
            "title": pick(dossier.version.definition["title"]),
            "sections": sections,
            "notice": notice,
            "notice_text": privacy_queries.notice_text(notice, language),
            "notice_error": notice_error,
            "errors": [(e.message, _page_url(dossier, e.page_id)) for e in found],
        },
        status=status,
    )


@citizen_page
@require_POST
@limited(
    account=limits.SUBMISSIONS_PER_ACCOUNT,
    address=limits.SUBMISSIONS_PER_ADDRESS,
    message=gettext_lazy("Trop de dépôts en peu de temps. Réessayez dans %(wait)s."),
)
def submit(request: HttpRequest, reference: str) -> HttpResponseBase:
    dossier = queries.get_dossier_for(signed_in_user(request), reference)
    try:
        dossier = services.submit_dossier(
            dossier=dossier,
            token=request.POST.get("token", ""),
            actor=signed_in_user(request),
            # Always sent by the summary: a form without it is older than versioned notices.
            notice=request.POST.get("notice"),
            consent=request.POST.get("consent") == "1",
        )
    except privacy.NoticeError as exc:
        status = 409 if exc.changed else 400
        return _render_summary(request, dossier, notice_error=exc.message, status=status)
    except services.SubmissionRefused as exc:
        return _render_summary(request, dossier, errors=exc.errors, status=400)
    except services.DossierError as exc:
        messages.error(request, exc.message)
        return redirect(_resume_url(dossier))
    return redirect("dossiers:detail", dossier.reference)


@citizen_page
def receipt(request: HttpRequest, reference: str) -> HttpResponse:
    dossier = queries.get_dossier_for(signed_in_user(request), reference)
    if dossier.is_draft or dossier.submitted_at is None:
        return redirect(_resume_url(dossier))
    definition = dossier.version.definition
    user = signed_in_user(request)
    data = ReceiptData(
        reference=dossier.reference,
        procedure_title=pick(definition["title"], "fr"),
        authority=pick(definition["authority"]["name"], "fr"),
        country=str(Country(definition["country"]).label),
        submitted_at=dossier.submitted_at,
        applicant=user.display_name or (mask(user.phone) if user.phone else user.get_username()),
        documents=[a.original_name for a in dossier.attachments.all()],
        site_name="Guichet",
        follow_url=request.build_absolute_uri(reverse("dossiers:list")),
    )
    response = HttpResponse(render_receipt(data), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="recepisse-{dossier.reference}.pdf"'
    return response


@citizen_page
@require_GET
def document(request: HttpRequest, reference: str, number: str) -> HttpResponseBase:
    """A document issued on the decision, as signed; only its dossier's applicant."""
    user = signed_in_user(request)
    dossier = queries.get_dossier_for(user, reference)
    issued = get_object_or_404(dossier.documents, number=number)
    document_services.record_download(issued, user, by_staff=False)
    return serve_document(request, issued, inline=False)


@citizen_page
@require_POST
def resubmit(request: HttpRequest, reference: str) -> HttpResponse:
    dossier = queries.get_dossier_for(signed_in_user(request), reference)
    try:
        workflow.resubmit(
            dossier=dossier, token=request.POST.get("token", ""), actor=signed_in_user(request)
        )
    except services.SubmissionRefused as exc:
        messages.error(request, exc.message)
        for error in exc.errors.errors:
            messages.error(request, error.message)
    except services.DossierError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Votre dossier complété est renvoyé à l'administration."))
    return redirect("dossiers:detail", dossier.reference)
