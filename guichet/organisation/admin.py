from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from guichet.organisation.models import Authority, RoleKind, Service, StaffRole
from guichet.organisation.services import grant_role, revoke_role


@admin.register(Authority)
class AuthorityAdmin(admin.ModelAdmin[Authority]):
    list_display = ["id", "name", "country", "kind"]
    list_filter = ["country", "kind"]
    search_fields = ["id", "name"]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin[Service]):
    list_display = ["id", "name", "authority", "country", "region", "commune", "is_active"]
    list_filter = ["country", "is_active"]
    search_fields = ["id", "name"]


class StaffRoleForm(forms.ModelForm[StaffRole]):
    class Meta:
        model = StaffRole
        fields = ["user", "role", "service", "authority"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        user = data.get("user")
        if user is not None and not user.is_staff:
            raise forms.ValidationError("Seul un compte du personnel peut recevoir un rôle.")
        return data


@admin.register(StaffRole)
class StaffRoleAdmin(admin.ModelAdmin[StaffRole]):
    """Roles are granted and removed through the services, so each change is audited; a
    role is never edited in place (remove it and grant another)."""

    list_display = ["user", "role", "service", "authority", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "service__id", "authority__id"]
    autocomplete_fields = ["service", "authority"]
    form = StaffRoleForm

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: StaffRole, form: Any, change: bool) -> None:
        granted = grant_role(
            user=obj.user,
            role=RoleKind(obj.role),
            actor=request.user,  # type: ignore[arg-type]
            service=obj.service,
            authority=obj.authority,
        )
        obj.pk = granted.pk

    def delete_model(self, request: HttpRequest, obj: StaffRole) -> None:
        revoke_role(staff_role=obj, actor=request.user)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[StaffRole]) -> None:
        for role in queryset:
            revoke_role(staff_role=role, actor=request.user)  # type: ignore[arg-type]
