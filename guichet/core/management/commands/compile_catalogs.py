"""Compile the translation catalogs (locale/*/LC_MESSAGES/django.po) into .mo files.

Pure Python (polib) rather than Django's `compilemessages`, which needs GNU gettext: the .mo
files are committed so that `make run` works on a fresh machine, and whoever edits a .po
can rebuild them without installing gettext. Like `msgfmt`, fuzzy, obsolete and
untranslated entries are left out, so they fall back to French at run time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def catalog_paths() -> list[Path]:
    """Every django.po under the project's LOCALE_PATHS, in a stable order."""
    return sorted(
        po_path
        for locale_dir in settings.LOCALE_PATHS
        for po_path in Path(locale_dir).glob("*/LC_MESSAGES/django.po")
    )


class Command(BaseCommand):
    help = "Compiler les catalogues de traduction (.po → .mo) sans GNU gettext."

    def handle(self, *args: Any, **options: Any) -> None:
        # polib is a dev dependency: only people editing translations run this command.
        try:
            import polib
        except ImportError:
            raise CommandError(
                "Le module polib est nécessaire : installez les dépendances de développement "
                "(pip install -e '.[dev]')."
            ) from None

        paths = catalog_paths()
        if not paths:
            raise CommandError("Aucun catalogue trouvé dans locale/*/LC_MESSAGES/django.po.")
        base = Path(settings.BASE_DIR)
        for po_path in paths:
            try:
                catalog = polib.pofile(str(po_path))
            except (OSError, ValueError) as exc:
                raise CommandError(f"{po_path} : catalogue illisible ({exc}).") from None
            binary = catalog.to_binary()  # keeps translated entries only (no fuzzy)
            mo_path = po_path.with_suffix(".mo")
            # Rewrite only on change, so that an unchanged catalog leaves the tree clean.
            is_changed = not mo_path.exists() or mo_path.read_bytes() != binary
            if is_changed:
                mo_path.write_bytes(binary)
            total = len([e for e in catalog if not e.obsolete])
            shown = mo_path.relative_to(base) if mo_path.is_relative_to(base) else mo_path
            self.stdout.write(
                f"{shown} : "
                f"{len(catalog.translated_entries())} traduction(s) sur {total}"
                f"{'' if is_changed else ' (inchangé)'}."
            )
