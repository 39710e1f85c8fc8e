"""Keeps the .po catalogs in step with the templates and the code (used by a test and the CLI)."""

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from bot import ROOT
from bot.i18n import LOCALES, po_path

METHOD_MAP = [
    ("templates/**.j2", "jinja2"),
    ("bot/**.py", "python"),
    ("handlers/**.py", "python"),
    ("jobs/**.py", "python"),
]
OPTIONS = {"templates/**.j2": {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"}}
# ngettext: what a {% trans count=n %}…{% pluralize %}…{% endtrans %} block compiles to.
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "t": (2,)}


def extract() -> Catalog:
    """Every msgid used by templates and code."""
    catalog = Catalog()
    for filename, lineno, message, comments, _ctx in extract_from_dir(
        ROOT, METHOD_MAP, OPTIONS, keywords=KEYWORDS
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments)
    return catalog


def load(locale: str) -> Catalog:
    """The catalog of `locale` as stored."""
    with po_path(locale).open("rb") as fh:
        return read_po(fh, locale=locale)


def update() -> dict[str, list[str]]:
    """Merge new msgids into every catalog (English fills itself); return what is untranslated."""
    template = extract()
    missing: dict[str, list[str]] = {}
    for locale in LOCALES:
        path = po_path(locale)
        catalog = load(locale) if path.exists() else Catalog(locale=locale)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        catalog.project, catalog.version, catalog.fuzzy = "opsbot", "1", False
        for message in catalog:
            if message.id and untranslated(message) and locale == "en":
                message.string = message.id
        missing[locale] = [m.id for m in catalog if m.id and untranslated(m)]
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            write_po(fh, catalog, width=0, omit_header=False, sort_output=True)
    return missing


def untranslated(message: Message) -> bool:
    """No translation yet (a plural message needs every one of its forms)."""
    forms = message.string if isinstance(message.string, tuple | list) else (message.string,)
    return not all(forms)
