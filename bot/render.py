"""The only producer of user-visible text: Jinja2 templates (Telegram HTML) through gettext."""

import re
import unicodedata
from functools import cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from bot import TEMPLATES_DIR
from bot.i18n import normalise, translations
from bot.kpis.display import FILTERS

TELEGRAM_TEXT_LIMIT = 4096
QUOTE_LIMIT = 60  # characters of what a person typed that a reply quotes back
_BLANKS = re.compile(r"\s+")
# Lines joined after Chinese punctuation need no space ("提出。按类别："), others one.
_AFTER_ZH_PUNCT = re.compile(r"([，。：；！？、）」』])\s*\n\s*")
# Never cut between a character and what modifies it (accents, skin tones, ZWJ sequences).
_JOINERS = {"\u200d", "\ufe0e", "\ufe0f"}


@cache
def environment(locale: str) -> Environment:
    """One environment per locale, so gettext is installed once and never swapped under a render."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=False,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,  # templates do not change under a running bot: no stat per render
    )
    # Newstyle for gettext and ngettext alike: both format %(name)s and escape their arguments,
    # and {% trans count=n %}…{% pluralize %}…{% endtrans %} picks the locale's plural form.
    env.install_gettext_translations(translations(locale), newstyle=True)
    env.globals["locale"] = locale
    # Chinese punctuation is full-width with no space around it (and 、 between listed items):
    # templates put these between a label and its value, listed items, and two sentences.
    env.globals.update(punctuation(locale))
    env.filters.update(FILTERS)
    env.filters["clip"] = clip
    env.filters["at"] = lambda moment, tz: _at(moment, tz, locale)
    return env


def _at(moment, tz, locale: str) -> str:
    """`{{ when|at(tz) }}`: a day and time in the team's zone, 12月1日 18:00 / 1 Dec 18:00."""
    from bot.services.periods import short_date  # periods renders nothing: no import cycle

    local = moment.astimezone(tz)
    return f"{short_date(local.date(), locale)} {local:%H:%M}"


def punctuation(locale: str) -> dict[str, str]:
    """The locale's label colon, list separator and sentence gap (Chinese: full-width, unspaced)."""
    zh = normalise(locale) != "en"
    return {
        "colon": "：" if zh else ": ",
        "listsep": "、" if zh else ", ",
        "gap": "" if zh else " ",
    }


def render(template_name: str, locale: str, /, **context: object) -> str:
    """Render templates/`template_name` in `locale`; the result is Telegram-valid HTML."""
    template = environment(normalise(locale)).get_template(template_name)
    return template.render(**context).strip()


def clip(value: object, limit: int = QUOTE_LIMIT) -> str:
    """What a person typed, fit to quote back: on one line, at most `limit` characters + "…".

    Characters, not bytes or UTF-16 units: 60 Chinese characters read as long as 60 Latin ones.
    A cut never splits an emoji sequence or a letter from its accent; NUL is dropped.
    """
    if isinstance(value, Markup):  # already escaped: cut the text, not an entity
        return escape(clip(value.unescape(), limit))
    text = _AFTER_ZH_PUNCT.sub(r"\1", str(value).replace("\x00", ""))
    text = _BLANKS.sub(" ", text).strip()
    if len(text) <= limit:
        return text
    cut = limit
    while cut > 0 and (_modifies(text[cut]) or text[cut - 1] in _JOINERS):
        cut -= 1
    return text[:cut].rstrip() + "…"


def _modifies(char: str) -> bool:
    return (
        unicodedata.combining(char) > 0
        or char in _JOINERS
        or "\U0001f3fb" <= char <= "\U0001f3ff"  # skin tones
        or "\U000e0020" <= char <= "\U000e007f"  # tag sequences (flags of regions)
    )
