"""OpenDocument spreadsheets written with odfpy: the parts every export shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def sheet(doc: Any, name: str, widths: Sequence[int]) -> Any:
    """A table named `name` in `doc`, with a bold `header` cell style and columns `widths`
    characters wide (about 0.2 cm each). The caller adds the rows and the table."""
    from odf.style import Style, TableColumnProperties, TextProperties
    from odf.table import Table, TableColumn

    bold = Style(name="header", family="table-cell")
    bold.addElement(TextProperties(fontweight="bold"))
    doc.styles.addElement(bold)
    table = Table(name=name)
    for index, width in enumerate(widths):
        column_style = Style(name=f"col{index}", family="table-column")
        column_style.addElement(TableColumnProperties(columnwidth=f"{width * 0.2:.1f}cm"))
        doc.automaticstyles.addElement(column_style)
        table.addElement(TableColumn(stylename=column_style))
    return table
