"""Write interface of the catalog: every change to published procedures goes through here.

Import is all or nothing: the whole set is validated before anything is written, and the
writes share one transaction. An unchanged definition (same content hash as the current
version) writes nothing; a changed one becomes a new version, and earlier versions stay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction

from guichet.accounts.models import User
from guichet.catalog.definition import (
    Definition,
    DefinitionError,
    DefinitionSetError,
    parse_definition,
)
from guichet.catalog.models import Procedure, ProcedureVersion
from guichet.governance import audit
from guichet.governance.audit import Actor


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return len(self.created) + len(self.updated)


@transaction.atomic
def import_definitions(*, definitions: Sequence[Definition], actor: Actor) -> ImportReport:
    """Publish validated definitions; a new version for each one that changed."""
    report = ImportReport()
    for definition in definitions:
        data = definition.data
        procedure = (
            Procedure.objects.select_for_update(of=("self",))
            .select_related("current_version")
            .filter(pk=definition.id)
            .first()
        )
        if (
            procedure
            and procedure.current_version
            and (procedure.current_version.content_hash == definition.content_hash)
        ):
            report.unchanged.append(definition.id)
            continue
        is_new = procedure is None
        if procedure is None:
            procedure = Procedure(id=definition.id)
        procedure.country = data["country"]
        procedure.title = data["title"]["fr"][:300]
        procedure.theme = data["theme"]
        procedure.authority_id = data["authority"]["id"]
        procedure.save()
        last = procedure.versions.order_by("-number").values_list("number", flat=True).first()
        version = ProcedureVersion.objects.create(
            procedure=procedure,
            number=(last or 0) + 1,
            definition=data,
            content_hash=definition.content_hash,
            source=definition.source[-500:],
            created_by=actor if isinstance(actor, User) else None,
        )
        procedure.current_version = version
        procedure.save(update_fields=["current_version", "updated_at"])
        audit.record(
            "procedure.imported",
            obj=procedure,
            actor=actor,
            data={"version": version.number, "hash": definition.content_hash},
        )
        (report.created if is_new else report.updated).append(definition.id)
    return report


MAX_DEFINITION_BYTES = 512 * 1024


def publish_new_version(*, procedure: Procedure, text: str, actor: User) -> ImportReport:
    """A procedure administrator sends a new definition of one existing procedure.

    The file must describe this procedure (same id) for the same authority: moving a
    procedure to another administration is the platform's job, not one authority's.
    Raises DefinitionSetError with every problem, located by line, and writes nothing then.
    """
    source = f"<{procedure.pk}>"
    if len(text.encode()) > MAX_DEFINITION_BYTES:
        raise DefinitionSetError(
            [DefinitionError(source, None, "", "fichier trop gros (512 Ko au plus)")]
        )
    definition = parse_definition(text, source)
    problems = []
    if definition.id != procedure.pk:
        problems.append(
            DefinitionError(
                source, None, "id", f"ce fichier décrit « {definition.id} », pas « {procedure.pk} »"
            )
        )
    if definition.data["authority"]["id"] != procedure.authority_id:
        problems.append(
            DefinitionError(
                source,
                None,
                "authority.id",
                f"l'autorité doit rester « {procedure.authority_id} »",
            )
        )
    if problems:
        raise DefinitionSetError(problems)
    return import_definitions(definitions=[definition], actor=actor)
