"""Translations: gettext catalogs (zh default, en) compiled in memory from the .po files."""

import gettext
from functools import cache
from io import BytesIO

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot import LOCALES_DIR

LOCALES = ("zh", "en")
DOMAIN = "messages"


def N_(msgid: str) -> str:
    """Mark a string for extraction; it is translated later, where the locale is known."""
    return msgid


def po_path(locale: str):
    """Where the catalog of `locale` lives in the source tree."""
    return LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(locale: str) -> gettext.GNUTranslations:
    """The compiled catalog of `locale` (compiled once per process; no .mo files to build)."""
    with po_path(locale).open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    buf = BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def t(locale: str, msgid: str, **params: object) -> str:
    """Translate a short label (button, menu entry) into `locale`, formatting %(name)s params."""
    text = translations(normalise(locale)).gettext(msgid)
    return text % params if params else text


def normalise(code: str | None, default: str = "zh") -> str:
    """Map a Telegram language_code (zh-hans, en-US …) to a supported locale."""
    if not code:
        return default
    base = code.lower().split("-")[0].split("_")[0]
    return base if base in LOCALES else default
