from django.contrib import admin

from guichet.organisation.models import Authority, Service, StaffRole


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


@admin.register(StaffRole)
class StaffRoleAdmin(admin.ModelAdmin[StaffRole]):
    list_display = ["user", "role", "service", "authority", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "service__id", "authority__id"]
    autocomplete_fields = ["service", "authority"]
