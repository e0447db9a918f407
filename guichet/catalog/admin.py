from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from guichet.catalog.models import Procedure, ProcedureVersion


class VersionInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ProcedureVersion
    fields = ("number", "content_hash", "source", "created_at", "created_by")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Procedure)
class ProcedureAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: procedures change through `procedures import`, so every change is versioned."""

    list_display = ("id", "title", "country", "theme", "confidence", "version", "is_published")
    list_filter = ("country", "theme", "is_published")
    search_fields = ("id", "title")
    readonly_fields = ("id", "country", "title", "theme", "authority_id", "current_version")
    inlines = [VersionInline]

    @admin.display(description="fiabilité des sources")
    def confidence(self, obj: Procedure) -> str:
        value = obj.definition.get("confidence") if obj.current_version else None
        return {"found": "sources officielles", "partial": "partielles — à vérifier"}.get(
            value or "", "—"
        )

    @admin.display(description="version")
    def version(self, obj: Procedure) -> int | None:
        return obj.current_version.number if obj.current_version else None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
