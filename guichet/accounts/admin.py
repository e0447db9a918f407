from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from guichet.accounts.models import User


@admin.register(User)
class GuichetUserAdmin(UserAdmin[User]):
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        ("Guichet", {"fields": ("phone", "display_name")}),
    )
    list_display = ("username", "phone", "display_name", "is_staff", "is_active")
    search_fields = ("username", "phone", "display_name", "email")
