"""Translations: gettext catalogs (zh default, en), compiled from the .po files when they change."""

import gettext
import logging
import os
from functools import cache
from io import BytesIO
from pathlib import Path

from bot import LOCALES_DIR

log = logging.getLogger(__name__)

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
    """The catalog of `locale`, loaded once per process."""
    return load_catalog(po_path(locale), locale)


def load_catalog(po: Path, locale: str) -> gettext.GNUTranslations:
    """A .po's catalog: its .mo beside it while that is fresh, else compiled anew (and kept)."""
    mo = po.with_suffix(".mo")
    if _fresh(mo, po):
        with mo.open("rb") as fh:
            return gettext.GNUTranslations(fh)
    compiled = compile_po(po, locale)
    _keep(mo, compiled)
    return gettext.GNUTranslations(BytesIO(compiled))


def compile_po(po: Path, locale: str) -> bytes:
    """The .mo bytes of a .po file (Babel is imported only here: ~70 ms a start when not needed)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    buf = BytesIO()
    write_mo(buf, catalog)
    return buf.getvalue()


def _fresh(mo: Path, po: Path) -> bool:
    # Like a .pyc: the compiled file serves while it is newer than its source (a checkout or an
    # edit of the .po makes it stale, and the next start compiles it again).
    try:
        return mo.stat().st_mtime_ns >= po.stat().st_mtime_ns
    except FileNotFoundError:
        return False


def _keep(mo: Path, compiled: bytes) -> None:
    # Written beside the .po for the next start; a read-only install (a container's /app run as
    # another user) compiles in memory each start instead, as before.
    partial = mo.with_suffix(f".mo.{os.getpid()}")
    try:
        partial.write_bytes(compiled)
        partial.replace(mo)  # atomic: a process starting meanwhile reads the old file or the new
    except OSError as exc:
        log.debug("not caching %s: %s", mo, exc)
        partial.unlink(missing_ok=True)


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
