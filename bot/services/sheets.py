"""The shape of an exported sheet, without openpyxl (so importing it costs nothing)."""

from typing import NamedTuple

Sheet = tuple[str, list[str], list[list[object]]]  # (title, header, rows)


class Formatted(NamedTuple):
    """A cell value with its Excel number format (money, percentages)."""

    value: object
    number_format: str
